//! Charts as PNG images, drawn with plotters' bitmap backend. Text uses DejaVu Sans compiled
//! into the binary (registered once), so nothing depends on the host's fonts.

use super::series::Series;
use crate::{CoreError, Result};
use plotters::prelude::*;
use std::sync::Once;

/// Width and height of every chart, in pixels: readable on a phone, small to send.
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 540;

const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Which chart to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Active subscribers per day: a line.
    Growth,
    /// Credits spent per week: bars.
    Credits,
    /// Revenue per month: a line per currency.
    Revenue,
}

impl Chart {
    pub fn parse(word: &str) -> Result<Chart> {
        match word.trim().to_ascii_lowercase().as_str() {
            "growth" => Ok(Chart::Growth),
            "credits" => Ok(Chart::Credits),
            "revenue" => Ok(Chart::Revenue),
            other => Err(CoreError::Invalid(crate::domain::ParseError(format!(
                "There is no “{other}” chart: choose growth, credits or revenue."
            )))),
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Chart::Growth => "growth.png",
            Chart::Credits => "credits.png",
            Chart::Revenue => "revenue.png",
        }
    }
}

impl crate::Core {
    /// The chart's series, for `actor`'s scope.
    pub async fn chart_series(&self, actor: &crate::Actor, chart: Chart) -> Result<Series> {
        match chart {
            Chart::Growth => self.growth_series(actor).await,
            Chart::Credits => self.credits_series(actor).await,
            Chart::Revenue => self.revenue_series(actor).await,
        }
    }

    /// The chart as a PNG image.
    pub async fn chart_png(&self, actor: &crate::Actor, chart: Chart) -> Result<Vec<u8>> {
        let series = self.chart_series(actor, chart).await?;
        tokio::task::spawn_blocking(move || render(&series, chart == Chart::Credits))
            .await
            .map_err(|e| CoreError::Internal(Box::new(e)))?
    }
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// Draws `series` (as bars, or lines) and encodes it as PNG.
pub fn render(series: &Series, bars: bool) -> Result<Vec<u8>> {
    REGISTER.call_once(|| {
        // The bytes are a valid TTF compiled in; a failure would show as missing text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS);
    });
    let internal = |e: String| CoreError::Internal(e.into());
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| internal(e.to_string()))?;
        let labels: Vec<String> = series
            .lines
            .first()
            .map(|(_, points)| points.iter().map(|p| p.label.clone()).collect())
            .unwrap_or_default();
        let n = labels.len().max(1);
        let top = series
            .lines
            .iter()
            .flat_map(|(_, points)| points.iter().map(|p| p.value))
            .fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.1 } else { 1.0 };
        let mut chart = ChartBuilder::on(&root)
            .caption(&series.title, (FONT, 26))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..n as f64, 0f64..top)
            .map_err(|e| internal(e.to_string()))?;
        let label_at = |x: &f64| {
            let i = x.floor() as usize;
            if (*x - x.floor()).abs() < f64::EPSILON {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&label_at)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, 14))
            .disable_x_mesh()
            .draw()
            .map_err(|e| internal(e.to_string()))?;
        for (i, (name, points)) in series.lines.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            if bars {
                chart
                    .draw_series(points.iter().enumerate().map(|(x, p)| {
                        let x = x as f64;
                        Rectangle::new([(x + 0.15, 0.0), (x + 0.85, p.value)], colour.filled())
                    }))
                    .map_err(|e| internal(e.to_string()))?;
            } else {
                chart
                    .draw_series(LineSeries::new(
                        points
                            .iter()
                            .enumerate()
                            .map(|(x, p)| (x as f64 + 0.5, p.value)),
                        colour.stroke_width(3),
                    ))
                    .map_err(|e| internal(e.to_string()))?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(3))
                    });
            }
        }
        if !bars && series.lines.len() > 1 {
            chart
                .configure_series_labels()
                .label_font((FONT, 14))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| internal(e.to_string()))?;
        }
        root.present().map_err(|e| internal(e.to_string()))?;
    }
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| internal(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| internal(e.to_string()))?;
    }
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::Point;

    #[test]
    fn a_chart_is_a_png_of_the_stated_size() {
        let points = (0..90)
            .map(|i| Point {
                label: format!("day {i}"),
                value: f64::from(i * 3),
            })
            .collect();
        let series = Series {
            title: "Active subscribers".into(),
            lines: vec![("subscribers".into(), points)],
        };
        for bars in [false, true] {
            let png = render(&series, bars).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            assert_eq!(&png[12..16], b"IHDR");
            assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), WIDTH);
            assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), HEIGHT);
            assert!(
                png.len() > 5_000 && png.len() < 500_000,
                "{} bytes",
                png.len()
            );
        }
        assert!(
            Chart::parse("pie")
                .unwrap_err()
                .to_string()
                .contains("growth, credits or revenue")
        );
    }
}
