//! Charts on dashboard pages: the server writes each chart's figures into its `data-chart`
//! attribute and `web/dashboard/charts.js` draws it with uPlot (vendored). The page that shows
//! a chart is rendered with [`super::layout::Extras::Charts`] and keeps a table of the exact
//! figures beside it: the table is what assistive technology reads and what works without
//! script.

use maud::{Markup, html};
use serde_json::json;

/// A bar chart, one bar per label. `label` names the whole chart for screen readers; `x` and
/// `y` name the axes in the chart's legend.
pub fn bars(label: &str, x: &str, y: &str, labels: &[String], values: &[usize]) -> Markup {
    let spec = json!({ "labels": labels, "values": values, "x": x, "y": y });
    html! {
        div.chart role="img" aria-label=(label) data-chart=(spec.to_string()) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charts_figures_travel_in_its_attribute_escaped_for_html() {
        let markup = bars(
            "Per member",
            "Member",
            "Confirmed",
            &["Ann & \"Bo\"".to_string(), "Cy".to_string()],
            &[3, 0],
        )
        .into_string();
        assert!(markup.contains(r#"role="img""#), "{markup}");
        assert!(markup.contains(r#"aria-label="Per member""#), "{markup}");
        assert!(
            markup.contains("&quot;labels&quot;:[&quot;Ann &amp; \\&quot;Bo\\&quot;&quot;"),
            "{markup}"
        );
        assert!(markup.contains("&quot;values&quot;:[3,0]"), "{markup}");
    }
}
