//! The linear model with dense inputs beside the n-grams ([`Model::train_dense`]): it uses them,
//! saves and loads them, and n-gram-only models keep their old file format.

use okienko_nlu::{Model, TrainConfig};

#[test]
fn dense_inputs_are_learned_saved_and_loaded() {
    // The texts carry no signal (all the same); only the dense input separates the labels.
    let rows: Vec<(&str, &str)> = (0..20)
        .map(|i| ("same words", if i % 2 == 0 { "even" } else { "odd" }))
        .collect();
    let dense: Vec<Vec<f32>> = (0..20)
        .map(|i| {
            if i % 2 == 0 {
                vec![1.0, 0.0]
            } else {
                vec![0.0, 1.0]
            }
        })
        .collect();
    let cfg = TrainConfig {
        lbfgs_iters: 50,
        ..TrainConfig::default()
    };
    let m = Model::train_dense(&rows, &dense, &cfg);
    assert_eq!(m.dense_dim(), 2);
    let even = m.predict_dense("same words", &[1.0, 0.0]);
    let odd = m.predict_dense("same words", &[0.0, 1.0]);
    assert_eq!(m.labels()[even[0].0], "even");
    assert_eq!(m.labels()[odd[0].0], "odd");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dense.model");
    m.save(&path).unwrap();
    let back = Model::load(&path).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.predict_dense("same words", &[0.0, 1.0]), odd);
    // Truncated files are errors, not panics.
    let bytes = std::fs::read(&path).unwrap();
    for cut in [9, bytes.len() / 2, bytes.len() - 1] {
        assert!(Model::from_bytes(&bytes[..cut]).is_err());
    }

    // An n-gram-only model still writes the original format.
    let plain = Model::train(&rows, &cfg);
    assert_eq!(plain.dense_dim(), 0);
    assert_eq!(&plain.to_bytes()[..8], b"OKNLUM02");
    assert_eq!(&m.to_bytes()[..8], b"OKNLUM03");
}
