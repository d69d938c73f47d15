//! Charts as PNG images, drawn with plotters: spending by category as bars, and the balance over
//! time as a line. Each chart carries its numbers and a text version, for channels without images
//! and for screen readers.

use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use okienko_core::{Currency, Lang, Money, format};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
        let title = match lang {
            Lang::Pl => "Wydatki według kategorii",
            Lang::En => "Spending by category",
        };
        bars(title, rows, lang)
    }

    /// The top merchants, largest first, as horizontal bars: merchant names (long Polish ones
    /// such as "PRZEDSIĘBIORSTWO HANDLOWO-USŁUGOWE …" included) are cut with "…" to fit the
    /// label column; the text version keeps them whole.
    pub fn merchant_bars(&self, s: &SpendingSummary, lang: Lang) -> Result<Chart, ChartError> {
        let rows: Vec<(String, Money)> = s
            .top_merchants
            .iter()
            .map(|m| (m.merchant.clone(), m.spent))
            .collect();
        let title = match lang {
            Lang::Pl => "Gdzie wydajesz najwięcej",
            Lang::En => "Where you spend the most",
        };
        bars(title, rows, lang)
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
        // Whole units on the axis ("12 346 zł"): shorter, and the ticks are round anyway.
        let axis_money = |v: f64| {
            Decimal::from_f64_retain(v)
                .and_then(|d| Money::new(d.round_dp(0), currency).ok())
                .map(|m| format::money(&m, lang))
                .unwrap_or_default()
        };
        // The y label column fits the widest label the axis can show (its two ends bound them).
        let label_area = [lo - pad, hi + pad, lo, hi]
            .iter()
            .map(|v| text_size(&axis_money(*v), AXIS_FONT).0)
            .max()
            .unwrap_or(0)
            .saturating_add(18)
            .clamp(60, WIDTH / 3);
        // Days since the first point on the x axis; labels turn them back into dates.
        let start = first.0;
        let span = (last.0 - start).num_days().max(1);
        let png = draw(|root| {
            let mut chart = ChartBuilder::on(root)
                .caption(title, (FAMILY, CAPTION))
                .margin(MARGIN)
                // A little room right of the plot, so the last date label is not cut in half.
                .margin_right(MARGIN + 16)
                .x_label_area_size(30)
                .y_label_area_size(label_area)
                .build_cartesian_2d(0..span, (lo - pad)..(hi + pad))
                .map_err(|_| ChartError::Draw)?;
            chart
                .configure_mesh()
                .x_labels(5)
                .y_labels(5)
                .label_style((FAMILY, AXIS_FONT))
                .x_label_formatter(&|i| {
                    (start + chrono::Duration::days(*i))
                        .format("%d.%m")
                        .to_string()
                })
                .y_label_formatter(&|v| fit_text(&axis_money(*v), AXIS_FONT, label_area - 12))
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

/// Outer margin of every chart, in pixels.
const MARGIN: u32 = 12;
/// Axis label font size of the balance line.
const AXIS_FONT: u32 = 13;
/// Caption font size and the height the caption takes (text and its gap).
const CAPTION: u32 = 22;
const CAPTION_AREA: u32 = 36;
/// At most this many bars: more would not fit readable labels into the chart's height.
pub const MAX_BARS: usize = 12;
/// Gap between a bar's end and its amount, and room kept free at the plot's right edge.
const AMOUNT_GAP: u32 = 6;
const RIGHT_ROOM: u32 = 4;

/// Width and height of `text` in `size` px of the chart font.
fn text_size(text: &str, size: u32) -> (u32, u32) {
    (FAMILY, size)
        .into_font()
        .box_size(text)
        // Without metrics, a generous guess: no label is ever drawn larger than this.
        .unwrap_or_else(|_| (text.chars().count() as u32 * size, size + 4))
}

/// `text` cut with "…" until it is at most `width` px wide in `size` px.
fn fit_text(text: &str, size: u32, width: u32) -> String {
    if text_size(text, size).0 <= width {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    for keep in (1..chars.len()).rev() {
        let mut s: String = chars[..keep].iter().collect();
        s.truncate(s.trim_end().len());
        s.push('…');
        if text_size(&s, size).0 <= width {
            return s;
        }
    }
    "…".to_owned()
}

/// Where a bar chart's parts go, from the measured text: nothing is clipped at the canvas's
/// edges and no two labels overlap.
#[derive(Debug, Clone, PartialEq)]
struct BarLayout {
    /// Font size of the row labels and amounts (smaller when there are many rows).
    font: u32,
    /// Width of the label column left of the bars.
    label_area: u32,
    /// The row labels as drawn (cut with "…" when too wide).
    labels: Vec<String>,
    /// The amounts as drawn.
    amounts: Vec<String>,
    /// Right end of the value axis: the longest bar leaves room for its amount.
    x_max: f64,
}

fn bar_layout(rows: &[(String, Money)], lang: Lang) -> BarLayout {
    let n = rows.len().max(1) as u32;
    let plot_h = HEIGHT - 2 * MARGIN - CAPTION_AREA;
    let row_h = plot_h / n;
    // Text at most ~60 % of a row, so neighbouring labels never touch.
    let font = (row_h * 3 / 5).clamp(9, 15);
    let max_label_area = WIDTH * 2 / 5;
    let amounts: Vec<String> = rows.iter().map(|(_, m)| format::money(m, lang)).collect();
    let widest = rows
        .iter()
        .map(|(l, _)| text_size(l, font).0)
        .max()
        .unwrap_or(0);
    // Room for the tick marks and a gap before the text.
    let label_area = (widest + 16).clamp(40, max_label_area);
    let labels = rows
        .iter()
        .map(|(l, _)| fit_text(l, font, label_area - 16))
        .collect();
    let plot_w = f64::from(WIDTH - 2 * MARGIN - label_area);
    let mut x_max = rows
        .iter()
        .filter_map(|(_, m)| m.amount().to_f64())
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.05;
    for ((_, m), text) in rows.iter().zip(&amounts) {
        let v = m.amount().to_f64().unwrap_or(0.0).max(0.0);
        let room = plot_w - f64::from(text_size(text, font).0 + AMOUNT_GAP + RIGHT_ROOM);
        // The bar may take `room` px at most: then its amount still ends inside the plot.
        if room > 1.0 {
            x_max = x_max.max(v * plot_w / room);
        }
    }
    BarLayout {
        font,
        label_area,
        labels,
        amounts,
        x_max,
    }
}

/// Horizontal bars, first row on top, each with its amount after it.
fn bars(title: &str, mut rows: Vec<(String, Money)>, lang: Lang) -> Result<Chart, ChartError> {
    if rows.is_empty() {
        return Err(ChartError::Empty);
    }
    rows.truncate(MAX_BARS);
    let layout = bar_layout(&rows, lang);
    let n = rows.len();
    let font = layout.font;
    let png = draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FAMILY, CAPTION))
            .margin(MARGIN)
            .x_label_area_size(0)
            .y_label_area_size(layout.label_area)
            .build_cartesian_2d(0.0..layout.x_max, (0..n).into_segmented())
            .map_err(|_| ChartError::Draw)?;
        let labels = &layout.labels;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .disable_x_axis()
            .y_label_style((FAMILY, font))
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
        let gap = layout.x_max * f64::from(AMOUNT_GAP)
            / f64::from(WIDTH - 2 * MARGIN - layout.label_area);
        chart
            .draw_series(rows.iter().enumerate().map(|(i, (_, m))| {
                let v = m.amount().to_f64().unwrap_or(0.0).max(0.0);
                Text::new(
                    layout.amounts[i].clone(),
                    (v + gap, SegmentValue::CenterOf(n - 1 - i)),
                    // Centred on the bar's row, so it never reaches into the next one.
                    TextStyle::from((FAMILY, font).into_font())
                        .pos(Pos::new(HPos::Left, VPos::Center)),
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

    fn pln(a: &str) -> Money {
        Money::parse(a, "PLN").unwrap()
    }

    /// Columns `xs` of the image hold nothing but white.
    fn white_columns(png_bytes: &[u8], xs: std::ops::Range<u32>) -> bool {
        let (w, h, px) = decode(png_bytes);
        (0..h).all(|y| {
            xs.clone().all(|x| {
                let i = ((y * w + x) * 3) as usize;
                px[i..i + 3] == [0xff, 0xff, 0xff]
            })
        })
    }

    #[test]
    fn long_polish_merchant_names_and_large_amounts_fit_without_clipping() {
        let _ = charts();
        let long = "PRZEDSIĘBIORSTWO HANDLOWO-USŁUGOWE „ŻÓŁTA ŁÓDŹ” SPÓŁKA Z OGRANICZONĄ ODPOWIEDZIALNOŚCIĄ";
        let rows = vec![
            (long.to_owned(), pln("1234567.89")),
            ("Żabka".to_owned(), pln("12.50")),
            (
                "Spółdzielnia Mieszkaniowa Śródmieście".to_owned(),
                pln("987654.32"),
            ),
        ];
        let layout = bar_layout(&rows, Lang::Pl);
        assert!(layout.labels[0].ends_with('…'), "{:?}", layout.labels);
        assert!(layout.labels[0].starts_with("PRZEDSIĘBIORSTWO"));
        assert_eq!(layout.labels[1], "Żabka");
        for l in &layout.labels {
            assert!(text_size(l, layout.font).0 + 16 <= layout.label_area, "{l}");
        }
        assert!(layout.label_area <= WIDTH * 2 / 5);
        // Every amount ends inside the plot, after its bar.
        let plot_w = f64::from(WIDTH - 2 * MARGIN - layout.label_area);
        for ((_, m), text) in rows.iter().zip(&layout.amounts) {
            let bar = m.amount().to_f64().unwrap() / layout.x_max * plot_w;
            let end = bar + f64::from(AMOUNT_GAP + text_size(text, layout.font).0);
            assert!(end <= plot_w, "{text}: {end} > {plot_w}");
        }
        assert_eq!(layout.amounts[0], "1 234 567,89 zł");

        let c = bars("Gdzie wydajesz najwięcej", rows.clone(), Lang::Pl).unwrap();
        let (w, h, _) = decode(&c.png);
        assert_eq!((w, h), (WIDTH, HEIGHT));
        // Nothing is cut at the canvas's edges: the outer columns stay white.
        assert!(white_columns(&c.png, 0..MARGIN + 2), "clipped on the left");
        assert!(
            white_columns(&c.png, WIDTH - MARGIN - 2..WIDTH),
            "clipped on the right"
        );
        // The numbers and the text version keep the whole names.
        assert_eq!(c.values[0], (long.to_owned(), Decimal::new(123456789, 2)));
        assert!(c.alt.contains(long), "{}", c.alt);
        assert!(c.alt.contains("1 234 567,89 zł"), "{}", c.alt);
    }

    #[test]
    fn many_rows_get_a_font_that_keeps_labels_apart() {
        let _ = charts();
        let rows: Vec<(String, Money)> = (0..MAX_BARS + 3)
            .map(|i| (format!("Sklep numer {i}"), pln(&format!("{}.00", 100 + i))))
            .collect();
        let c = bars("Wydatki", rows.clone(), Lang::Pl).unwrap();
        assert_eq!(c.values.len(), MAX_BARS, "at most {MAX_BARS} bars");
        let layout = bar_layout(&rows[..MAX_BARS], Lang::Pl);
        let row_h = (HEIGHT - 2 * MARGIN - CAPTION_AREA) / MAX_BARS as u32;
        let (_, text_h) = text_size("Sklep numer 11 Żółć", layout.font);
        assert!(text_h < row_h, "{text_h} px text in {row_h} px rows");
        assert!(white_columns(&c.png, 0..MARGIN + 2));
        assert!(white_columns(&c.png, WIDTH - MARGIN - 2..WIDTH));
        // English amounts fit too.
        let en = bar_layout(
            &[(
                "Costco Wholesale".to_owned(),
                Money::parse("98765.43", "USD").unwrap(),
            )],
            Lang::En,
        );
        assert_eq!(en.amounts[0], "$98,765.43");
    }

    #[test]
    fn large_and_negative_balances_keep_their_axis_labels_whole() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let points = vec![
            (d("2026-11-01"), Decimal::new(-123_456_700, 2)),
            (d("2026-11-15"), Decimal::new(987_654_300, 2)),
            (d("2026-11-30"), Decimal::new(12_345_600, 2)),
        ];
        let c = charts()
            .balance_line(&points, Currency::PLN, Lang::Pl)
            .unwrap();
        assert!(white_columns(&c.png, 0..MARGIN + 2), "y labels clipped");
        assert!(
            white_columns(&c.png, WIDTH - MARGIN..WIDTH),
            "x labels clipped"
        );
        assert!(c.alt.contains("-1 234 567,00 zł"), "{}", c.alt);
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
