//! Charts drawn on the server as SVG: no script, no library fetched, printable, readable
//! without colour (every bar carries its figure).

use maud::{Markup, html};

use super::l;

/// A horizontal bar chart: one bar per row (label, value, the value as shown), scaled to the
/// largest.
pub(super) fn bars(id: &str, title: &str, rows: &[(String, f64, String)]) -> Markup {
    const LABEL: f64 = 230.0;
    const WIDTH: f64 = 360.0;
    const ROW: f64 = 24.0;
    let most = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
    let height = ROW * rows.len().max(1) as f64 + 8.0;
    html! {
        figure.chart {
            figcaption { strong { (l(title)) } }
            @if rows.is_empty() {
                p { (l("暂无数据 Nothing yet")) }
            } @else {
                svg id=(id) xmlns="http://www.w3.org/2000/svg" width=(LABEL + WIDTH + 120.0) height=(height) role="img" aria-label=(title) {
                    @for (n, (label, value, shown)) in rows.iter().enumerate() {
                        @let y = n as f64 * ROW + 4.0;
                        @let w = if most > 0.0 { (value / most * WIDTH).max(1.0) } else { 1.0 };
                        text x=(LABEL - 6.0) y=(y + 15.0) text-anchor="end" { (label) }
                        rect x=(LABEL) y=(y) width=(w) height=(ROW - 6.0) fill="#b33a3a" {
                            title { (label) ": " (shown) }
                        }
                        text x=(LABEL + w + 6.0) y=(y + 15.0) { (shown) }
                    }
                }
            }
        }
    }
}

/// Columns by month (January to December), one column per series in each month, with a key;
/// each column's figure in its tooltip and, where it is not zero, above it.
pub(super) fn by_month(id: &str, title: &str, series: &[(String, [f64; 12])]) -> Markup {
    const COLOURS: [&str; 6] = [
        "#b33a3a", "#3a6fb3", "#3a9b5c", "#b3873a", "#7a3ab3", "#555",
    ];
    const HEIGHT: f64 = 160.0;
    const TOP: f64 = 20.0;
    let per = series.len().max(1) as f64;
    let bar = (48.0 / per).clamp(6.0, 16.0);
    let group = bar * per + 10.0;
    let most = series
        .iter()
        .flat_map(|(_, m)| m.iter().copied())
        .fold(0.0_f64, f64::max);
    let width = 40.0 + group * 12.0;
    html! {
        figure.chart {
            figcaption { strong { (l(title)) } }
            @if most <= 0.0 {
                p { (l("暂无数据 Nothing yet")) }
            } @else {
                svg id=(id) xmlns="http://www.w3.org/2000/svg" width=(width) height=(TOP + HEIGHT + 40.0) role="img" aria-label=(title) {
                    line x1="30" y1=(TOP + HEIGHT) x2=(width) y2=(TOP + HEIGHT) stroke="#999" {}
                    @for m in 0..12usize {
                        @let x0 = 34.0 + group * m as f64;
                        text x=(x0 + group / 2.0 - 5.0) y=(TOP + HEIGHT + 14.0) text-anchor="middle" { (m + 1) "月" }
                        @for (k, (label, values)) in series.iter().enumerate() {
                            @let v = values[m];
                            @let h = v / most * HEIGHT;
                            @if v > 0.0 {
                                rect x=(x0 + bar * k as f64) y=(TOP + HEIGHT - h) width=(bar - 1.0) height=(h) fill=(COLOURS[k % COLOURS.len()]) {
                                    title { (label) " " (m + 1) "月: " (v) }
                                }
                            }
                        }
                    }
                    @for (k, (label, _)) in series.iter().enumerate() {
                        rect x=(34.0 + 110.0 * k as f64) y=(TOP + HEIGHT + 22.0) width="10" height="10" fill=(COLOURS[k % COLOURS.len()]) {}
                        text x=(48.0 + 110.0 * k as f64) y=(TOP + HEIGHT + 31.0) { (label) }
                    }
                }
            }
        }
    }
}
