//! Charts as PNG images, drawn with plotters: spending by category as bars, and the balance over
//! time as a line. Each chart carries its numbers and a text version, for channels without images
//! and for screen readers.

use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use okienko_core::{Currency, Lang, Money, format};
use plotters::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::summary::SpendingSummary;

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 360;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the chart font could not be read: {0}")]
    Font(String),
    #[error("nothing to draw")]
    Empty,
    #[error("drawing the chart failed")]
    Draw,
    #[error("encoding the chart as PNG failed")]
    Encode,
}

/// A rendered chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The chart in words, for screen readers and channels without images.
    pub alt: String,
    /// The plotted values, label → amount, in plotting order.
    pub values: Vec<(String, Decimal)>,
}

/// The font family the charts ask for; registered once per process.
const FAMILY: &str = "sans-serif";
static FONT: OnceLock<Result<(), String>> = OnceLock::new();

/// Draws charts. Needs a TrueType font (text in a chart is drawn, not typeset by a browser).
#[derive(Debug, Clone)]
pub struct Charts {
    _private: (),
}

impl Charts {
    /// Loads the font at `path` (DejaVu Sans on Debian: fonts-dejavu-core). The bytes live for the
    /// whole process, as plotters' font registry requires.
    pub fn with_font_file(path: &Path) -> Result<Charts, ChartError> {
        if FONT.get().is_none() {
            // A missing file is reported without touching the registry, so a later call with
            // the right path still works.
            let bytes = std::fs::read(path).map_err(|e| ChartError::Font(e.kind().to_string()))?;
            let _ = FONT.get_or_init(|| {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
                    .map_err(|_| "not a TrueType font".to_owned())
            });
        }
        let loaded = FONT.get_or_init(|| {
            let bytes: &'static [u8] = &[];
            plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
                .map_err(|_| "not a TrueType font".to_owned())
        });
        match loaded {
            Ok(()) => Ok(Charts { _private: () }),
            Err(e) => Err(ChartError::Font(e.clone())),
        }
    }

    /// Spending by category, largest first, as horizontal bars labelled with the amounts.
    pub fn category_bars(&self, s: &SpendingSummary, lang: Lang) -> Result<Chart, ChartError> {
        let rows: Vec<(String, Money)> = s
            .by_category
            .iter()
            .map(|c| (c.category.label(lang).to_owned(), c.spent))
            .collect();
        if rows.is_empty() {
            return Err(ChartError::Empty);
        }
        let title = match lang {
            Lang::Pl => "Wydatki według kategorii",
            Lang::En => "Spending by category",
        };
        let max = rows
            .iter()
            .filter_map(|(_, m)| m.amount().to_f64())
            .fold(0.0_f64, f64::max)
            .max(1.0);
        let n = rows.len();
        let png = draw(|root| {
            let mut chart = ChartBuilder::on(root)
                .caption(title, (FAMILY, 22))
                .margin(12)
                .x_label_area_size(0)
                .y_label_area_size(170)
                .build_cartesian_2d(0.0..max * 1.35, (0..n).into_segmented())
                .map_err(|_| ChartError::Draw)?;
            let labels: Vec<String> = rows.iter().map(|(l, _)| l.clone()).collect();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .disable_y_mesh()
                .disable_x_axis()
                .y_label_style((FAMILY, 15))
                .y_labels(n)
                .y_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) => n
                        .checked_sub(i + 1)
                        .and_then(|row| labels.get(row).cloned())
                        .unwrap_or_default(),
                    _ => String::new(),
                })
                .draw()
                .map_err(|_| ChartError::Draw)?;
            let colour = RGBColor(0x1f, 0x6f, 0xb4);
            chart
                .draw_series(rows.iter().enumerate().map(|(i, (_, m))| {
                    let v = m.amount().to_f64().unwrap_or(0.0);
                    // The largest row on top: row 0 sits in the highest segment.
                    let at = n - 1 - i;
                    let mut bar = Rectangle::new(
                        [
                            (0.0, SegmentValue::Exact(at)),
                            (v, SegmentValue::Exact(at + 1)),
                        ],
                        colour.filled(),
                    );
                    bar.set_margin(4, 4, 0, 0);
                    bar
                }))
                .map_err(|_| ChartError::Draw)?;
            chart
                .draw_series(rows.iter().enumerate().map(|(i, (_, m))| {
                    let v = m.amount().to_f64().unwrap_or(0.0);
                    Text::new(
                        format::money(m, lang),
                        (v + max * 0.02, SegmentValue::CenterOf(n - 1 - i)),
                        (FAMILY, 15).into_font(),
                    )
                }))
                .map_err(|_| ChartError::Draw)?;
            Ok(())
        })?;
        let mut alt = vec![format!("{title}:")];
        alt.extend(
            rows.iter()
                .map(|(l, m)| format!("{l}: {}", format::money(m, lang))),
        );
        Ok(Chart {
            png,
            width: WIDTH,
            height: HEIGHT,
            alt: alt.join("\n"),
            values: rows.iter().map(|(l, m)| (l.clone(), m.amount())).collect(),
        })
    }

    /// The balance at the end of each day, as a line.
    pub fn balance_line(
        &self,
        points: &[(NaiveDate, Decimal)],
        currency: Currency,
        lang: Lang,
    ) -> Result<Chart, ChartError> {
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return Err(ChartError::Empty);
        };
        let title = match lang {
            Lang::Pl => "Saldo w czasie",
            Lang::En => "Balance over time",
        };
        let ys: Vec<f64> = points
            .iter()
            .map(|(_, v)| v.to_f64().unwrap_or(0.0))
            .collect();
        let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.1).max(1.0);
        let money = |v: Decimal| {
            Money::new(v.round_dp(currency.minor_units()), currency)
                .map(|m| format::money(&m, lang))
                .unwrap_or_default()
        };
        // Days since the first point on the x axis; labels turn them back into dates.
        let start = first.0;
        let span = (last.0 - start).num_days().max(1);
        let png = draw(|root| {
            let mut chart = ChartBuilder::on(root)
                .caption(title, (FAMILY, 22))
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(110)
                .build_cartesian_2d(0..span, (lo - pad)..(hi + pad))
                .map_err(|_| ChartError::Draw)?;
            chart
                .configure_mesh()
                .x_labels(5)
                .y_labels(5)
                .label_style((FAMILY, 13))
                .x_label_formatter(&|i| {
                    (start + chrono::Duration::days(*i))
                        .format("%d.%m")
                        .to_string()
                })
                .y_label_formatter(&|v| {
                    Decimal::from_f64_retain(*v)
                        .map(|d| money(d.round_dp(0)))
                        .unwrap_or_default()
                })
                .draw()
                .map_err(|_| ChartError::Draw)?;
            chart
                .draw_series(LineSeries::new(
                    points
                        .iter()
                        .zip(&ys)
                        .map(|((d, _), y)| ((*d - start).num_days(), *y)),
                    RGBColor(0x1f, 0x6f, 0xb4).stroke_width(3),
                ))
                .map_err(|_| ChartError::Draw)?;
            Ok(())
        })?;
        let alt = format!(
            "{title}: {} {} → {} {}",
            first.0.format("%d.%m.%Y"),
            money(first.1),
            last.0.format("%d.%m.%Y"),
            money(last.1)
        );
        Ok(Chart {
            png,
            width: WIDTH,
            height: HEIGHT,
            alt,
            values: points.iter().map(|(d, v)| (d.to_string(), *v)).collect(),
        })
    }
}

/// Runs a drawing on a white RGB canvas and encodes it as PNG.
fn draw(
    f: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), ChartError>,
) -> Result<Vec<u8>, ChartError> {
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|_| ChartError::Draw)?;
        f(&root)?;
        root.present().map_err(|_| ChartError::Draw)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|_| ChartError::Encode)?;
        w.write_image_data(&rgb).map_err(|_| ChartError::Encode)?;
    }
    Ok(out)
}

/// Daily end-of-day balances from today's balance walked back through the transactions: the
/// balance at the end of a day is the next day's balance minus that next day's movements.
pub fn balance_history(
    today_balance: Decimal,
    txs: &[(NaiveDate, Decimal)],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(NaiveDate, Decimal)> {
    let mut out = Vec::new();
    let mut balance = today_balance;
    let mut day = to;
    while day >= from {
        out.push((day, balance));
        let moved: Decimal = txs.iter().filter(|(d, _)| *d == day).map(|(_, a)| *a).sum();
        balance -= moved;
        match day.pred_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Categoriser, summarise};
    use okienko_core::{AccountId, BookingStatus, Transaction, TransactionId};
    use std::collections::HashMap;

    const FONT_FILE: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    fn charts() -> Charts {
        Charts::with_font_file(Path::new(FONT_FILE))
            .expect("DejaVu Sans (Debian fonts-dejavu-core; scripts/test installs it)")
    }

    fn tx(date: &str, amount: &str, raw: &str) -> Transaction {
        let date: NaiveDate = date.parse().unwrap();
        Transaction {
            id: TransactionId::new(),
            account_id: AccountId::new(),
            status: BookingStatus::Booked,
            date,
            booking_date: Some(date),
            value_date: None,
            amount: Money::parse(amount, "PLN").unwrap(),
            merchant: None,
            raw_description: raw.into(),
            category: None,
            updated_at: chrono::Utc::now(),
        }
    }

    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info.width, info.height, buf)
    }

    #[test]
    fn category_bars_are_a_real_png_with_the_summary_numbers() {
        let txs = vec![
            tx("2026-11-03", "-100.00", "BIEDRONKA 1"),
            tx("2026-11-04", "-250.00", "ORLEN STACJA"),
            tx("2026-11-05", "-30.00", "NETFLIX.COM"),
        ];
        let s = summarise(
            &txs,
            "2026-11-01".parse().unwrap(),
            "2026-11-30".parse().unwrap(),
            &Categoriser::new(),
            &HashMap::new(),
        )
        .unwrap();
        let c = charts().category_bars(&s, Lang::Pl).unwrap();
        let (w, h, pixels) = decode(&c.png);
        assert_eq!((w, h), (WIDTH, HEIGHT));
        // Something was drawn in the bar colour, and not everywhere.
        let blue = pixels
            .chunks(3)
            .filter(|p| p == &[0x1f, 0x6f, 0xb4])
            .count();
        assert!(
            blue > 1000 && blue < (WIDTH * HEIGHT / 2) as usize,
            "{blue}"
        );
        assert_eq!(
            c.values,
            vec![
                ("Paliwo".to_owned(), Decimal::new(25000, 2)),
                ("Zakupy spożywcze".to_owned(), Decimal::new(10000, 2)),
                ("Subskrypcje".to_owned(), Decimal::new(3000, 2)),
            ]
        );
        assert!(c.alt.contains("Paliwo: 250,00 zł"), "{}", c.alt);
    }

    #[test]
    fn the_longest_bar_belongs_to_the_largest_amount() {
        let txs = vec![
            tx("2026-11-03", "-400.00", "BIEDRONKA 1"),
            tx("2026-11-04", "-100.00", "ORLEN STACJA"),
        ];
        let s = summarise(
            &txs,
            "2026-11-01".parse().unwrap(),
            "2026-11-30".parse().unwrap(),
            &Categoriser::new(),
            &HashMap::new(),
        )
        .unwrap();
        let c = charts().category_bars(&s, Lang::En).unwrap();
        let (w, h, px) = decode(&c.png);
        // Bar length in every pixel row; the rows of each bar have the same length.
        let lengths: Vec<(u32, usize)> = (0..h)
            .map(|y| {
                let blue = (0..w)
                    .filter(|x| {
                        let i = ((y * w + x) * 3) as usize;
                        px[i..i + 3] == [0x1f, 0x6f, 0xb4]
                    })
                    .count();
                (y, blue)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        let long = lengths.iter().map(|(_, n)| *n).max().unwrap();
        let short = lengths.iter().map(|(_, n)| *n).min().unwrap();
        // 400 against 100: the first bar is about four times the second, and drawn above it.
        assert!(long > short * 3 && long < short * 5, "{long} vs {short}");
        let y_of = |len: usize| lengths.iter().find(|(_, n)| *n == len).unwrap().0;
        assert!(y_of(long) < y_of(short));
    }

    #[test]
    fn balance_line_walks_back_from_today() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let moves = vec![
            (d("2026-11-29"), Decimal::new(-5000, 2)),
            (d("2026-11-30"), Decimal::new(10000, 2)),
        ];
        let h = balance_history(
            Decimal::new(100000, 2),
            &moves,
            d("2026-11-28"),
            d("2026-11-30"),
        );
        assert_eq!(
            h,
            vec![
                (d("2026-11-28"), Decimal::new(95000, 2)),
                (d("2026-11-29"), Decimal::new(90000, 2)),
                (d("2026-11-30"), Decimal::new(100000, 2)),
            ]
        );
        let c = charts().balance_line(&h, Currency::PLN, Lang::Pl).unwrap();
        let (w, hh, _) = decode(&c.png);
        assert_eq!((w, hh), (WIDTH, HEIGHT));
        assert!(c.alt.contains("1 000,00 zł"), "{}", c.alt);
    }

    #[test]
    fn a_missing_font_is_a_clear_error_not_a_panic() {
        // The registry is per process: only check the error path when nothing loaded yet.
        if FONT.get().is_none() {
            let e = Charts::with_font_file(Path::new("/nonexistent/font.ttf"));
            assert!(matches!(e, Err(ChartError::Font(_))));
        }
    }
}
