//! Charts drawn on the server as SVG: no script, no library fetched, printable, readable
//! without colour (every bar carries its figure).

use maud::{Markup, html};

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
            figcaption { strong { (title) } }
            @if rows.is_empty() {
                p { "暂无数据 Nothing yet" }
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
