//! The overview's charts: SVG drawn on the server by `plotters` (its SVG backend writes
//! text as SVG text, so no font files are needed). Each chart carries its numbers as a
//! table too, the text alternative for people who cannot see it.

use plotters::prelude::*;

/// Colors of the series, in order (distinct in grayscale too).
const PALETTE: [RGBColor; 6] = [
    RGBColor(47, 91, 211),
    RGBColor(30, 107, 52),
    RGBColor(201, 120, 14),
    RGBColor(155, 28, 28),
    RGBColor(106, 76, 156),
    RGBColor(91, 100, 117),
];
const SIZE: (u32, u32) = (760, 300);

fn failed(e: impl std::fmt::Display) -> String {
    tracing::warn!(error = %e, "chart not drawn");
    String::new()
}

/// Labels for the accessible name: the SVG is one image with this description.
fn labelled(svg: String, label: &str) -> String {
    let label = label
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{label}\" "),
        1,
    )
}

/// Areas stacked in series order over `x_labels` (one value per label and series).
pub fn stacked_areas(
    title: &str,
    y_unit: &str,
    x_labels: &[String],
    series: &[(String, Vec<f64>)],
) -> String {
    let n = x_labels.len().max(1) as i32;
    let totals: Vec<f64> = (0..x_labels.len())
        .map(|i| {
            series
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let top = totals.iter().copied().fold(0.0, f64::max).max(1.0) * 1.1;
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(0..(n - 1).max(1), 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(8)
            .x_label_formatter(&|i| x_labels.get(*i as usize).cloned().unwrap_or_default())
            .y_desc(y_unit)
            .draw()?;
        for (k, (name, _)) in series.iter().enumerate().rev() {
            let color = PALETTE[k % PALETTE.len()];
            let stacked: Vec<(i32, f64)> = (0..x_labels.len())
                .map(|i| {
                    let below: f64 = series[..=k]
                        .iter()
                        .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                        .sum();
                    (i as i32, below)
                })
                .collect();
            chart
                .draw_series(AreaSeries::new(stacked, 0.0, color.mix(0.85)).border_style(color))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(217, 222, 231))
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => labelled(svg, title),
        Err(e) => failed(e),
    }
}

/// Bars side by side per label, one per series.
pub fn grouped_bars(
    title: &str,
    y_unit: &str,
    x_labels: &[String],
    series: &[(String, Vec<f64>)],
) -> String {
    let n = x_labels.len().max(1);
    let top = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let width = 0.8 / series.len().max(1) as f64;
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(n.min(12))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 {
                    x_labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(y_unit)
            .draw()?;
        for (k, (name, values)) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let offset = -0.4 + width * k as f64;
            chart
                .draw_series(values.iter().enumerate().map(move |(i, v)| {
                    let x = i as f64 + offset;
                    Rectangle::new([(x, 0.0), (x + width * 0.92, *v)], color.filled())
                }))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(217, 222, 231))
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => labelled(svg, title),
        Err(e) => failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_labelled_svg_without_inline_styles() {
        let labels: Vec<String> = (1..=5).map(|d| format!("Nov {d}")).collect();
        let series = vec![
            ("Team".to_string(), vec![1.0, 2.0, 3.0, 4.0, 5.0]),
            ("Business".to_string(), vec![5.0, 4.0, 3.0, 2.0, 1.0]),
        ];
        for svg in [
            stacked_areas("MRR per day", "USD", &labels, &series),
            grouped_bars("Organizations per week", "organizations", &labels, &series),
        ] {
            assert!(
                svg.starts_with("<svg role=\"img\" aria-label=\""),
                "{}",
                &svg[..80.min(svg.len())]
            );
            assert!(svg.contains("Nov 3") && svg.contains("Team") && svg.contains("Business"));
            // The page's CSP (style-src 'self') would drop inline style attributes.
            assert!(!svg.contains("style="), "inline style in the SVG");
        }
    }
}
