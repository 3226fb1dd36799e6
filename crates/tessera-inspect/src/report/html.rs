//! The HTML renderer: one self-contained page (inline CSS, no scripts, no external assets) in
//! the look of the demo app, with the per-bit entropy chart drawn as inline SVG.
//!
//! Every string that comes from the report goes through [`esc`]: evidence in particular is
//! text the audited app sent, and may be hostile. As a second line of defence the page carries
//! a Content-Security-Policy that allows no script, no request and no external asset at all.

use std::fmt::Write as _;

use super::text::label;
use super::{Finding, Report, Severity, Status};

/// Per-bit entropy (in bits, 0..=1) below which a bit position is drawn as weak, with the
/// threshold line on the chart at this height.
pub(super) const ENTROPY_BIT_THRESHOLD: f64 = 0.9;

const CSS: &str = r#"
body { font: 16px/1.5 system-ui, sans-serif; max-width: 90rem; margin: 2rem auto; padding: 0 1.5rem; color: #1d232a; }
header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #d6dbe1; margin-bottom: 1.5rem; }
header h1 { font-size: 1.2rem; margin: .5rem 0; }
header .tool { color: #5b6570; font-size: .9rem; }
h2 { font-size: 1.1rem; margin: 1.8rem 0 .6rem; }
a, a:visited { color: #2f5d8a; }
code, pre { font: .88rem/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dl.meta dt { color: #5b6570; } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.counts { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0; padding: 0; list-style: none; }
.counts li { padding: .3rem .7rem; border-radius: 4px; border: 1px solid; }
.note { background: #fff8e1; border: 1px solid #f0d98c; padding: .6rem .8rem; border-radius: 4px; }
article.finding { border: 1px solid #e3e7eb; border-radius: 6px; padding: .6rem .8rem; margin: 0 0 .7rem; }
article.finding .head { display: flex; flex-wrap: wrap; align-items: baseline; gap: .3rem .7rem; }
article.finding .head code { font-weight: 600; }
.sev { font-size: .85rem; color: #5b6570; }
.muted { color: #5b6570; }
.title { font-weight: 600; }
pre.evidence { white-space: pre-wrap; overflow-wrap: anywhere; margin: .4rem 0 0; padding: .4rem .6rem; background: #f5f7f9; border-radius: 4px; color: #37414b; }
ul.refs { margin: .4rem 0 0; padding: 0; list-style: none; font-size: .85rem; display: flex; flex-wrap: wrap; gap: .2rem 1rem; color: #5b6570; }
.status { display: inline-block; min-width: 3.6rem; text-align: center; font-size: .8rem; font-weight: 700; padding: .05rem .4rem; border-radius: 3px; border: 1px solid; }
.pass { background: #e8f5e9; border-color: #a5d6a7; color: #1b5e20; }
.fail { background: #fdecea; border-color: #f5b7b1; color: #b71c1c; }
.warn { background: #fff8e1; border-color: #f0d98c; color: #7a5200; }
.skip { background: #f1f3f5; border-color: #cfd5db; color: #5b6570; }
.error { background: #f3e5f5; border-color: #ce93d8; color: #6a1b9a; }
article.row-fail { border-left: 4px solid #e53935; }
article.row-warn { border-left: 4px solid #f0a500; }
article.row-error { border-left: 4px solid #8e24aa; }
h3 { font-size: 1rem; margin: 1.2rem 0 .5rem; color: #37414b; }
details.passed > summary { cursor: pointer; font-weight: 600; margin: 1.2rem 0 .6rem; }
details.passed article.finding { padding: .4rem .8rem; }
figure { margin: 0; }
figure svg { width: 100%; height: auto; border: 1px solid #e3e7eb; border-radius: 4px; }
figcaption { font-size: .9rem; color: #5b6570; margin-top: .3rem; }
details.exchanges pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; padding: .4rem .6rem; background: #f5f7f9; border-radius: 4px; font-size: .85rem; }
p.fix { margin: .4rem 0 0; padding: .4rem .6rem; border-left: 3px solid #2b6cb0; background: #eef4fb; }
footer { margin-top: 2rem; font-size: .85rem; color: #5b6570; border-top: 1px solid #d6dbe1; }
"#;

/// Renders `report` as one HTML page.
pub(super) fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::with_capacity(8192);
    out.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n",
    );
    let _ = write!(
        out,
        "<title>Tessera inspection · {}</title>\n<style>{CSS}</style></head>\n<body>\n\
         <header><h1>Tessera inspection report</h1><span class=\"tool\">{} {}</span></header>\n<main>\n",
        escape(&report.target),
        escape(&report.tool.name),
        escape(&report.tool.version)
    );

    let cookie = report.session_cookie.as_deref().map_or_else(
        || "<em>none found</em>".to_owned(),
        |c| format!("<code>{}</code>", escape(c)),
    );
    let stack = match &report.stack {
        Some(d) => format!(
            "{} <span class=\"muted\">({} confidence: {})</span>",
            escape(d.name),
            super::text::confidence(d.confidence),
            escape(&d.signals.join(", "))
        ),
        None => "<em>not recognised</em> <span class=\"muted\">(fixes are generic)</span>".into(),
    };
    let _ = writeln!(
        out,
        "<dl class=\"meta\"><dt>Target</dt><dd><code>{}</code></dd>\
         <dt>Session cookie</dt><dd>{cookie}</dd><dt>Stack</dt><dd>{stack}</dd></dl>",
        escape(&report.target)
    );

    out.push_str("<ul class=\"counts\" aria-label=\"Summary\">");
    for (n, what, class) in [
        (s.fail, "failed", "fail"),
        (
            s.warn,
            if s.warn == 1 { "warning" } else { "warnings" },
            "warn",
        ),
        (
            s.error,
            if s.error == 1 { "error" } else { "errors" },
            "error",
        ),
        (s.pass, "passed", "pass"),
        (s.skip, "skipped", "skip"),
        (s.suppressed, "suppressed by the baseline", "skip"),
    ] {
        if class == "skip" && what.starts_with("suppressed") && n == 0 {
            continue;
        }
        let _ = write!(out, "<li class=\"{class}\"><b>{n}</b> {what}</li>");
    }
    out.push_str("</ul>\n");

    // What needs attention first, worst first, grouped by severity; then what a baseline
    // accepted; then, collapsed, everything that passed or did not run.
    let attention: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.needs_attention())
        .collect();
    let errors: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Error)
        .collect();
    let suppressed: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some())
        .collect();
    let quiet: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Pass | Status::Skip))
        .collect();
    if report.findings.is_empty() {
        out.push_str("<h2>Findings</h2>\n<p class=\"note\">No checks ran.</p>\n");
    }
    if !attention.is_empty() {
        out.push_str("<h2>Needs attention</h2>\n");
        for severity in [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ] {
            let group: Vec<&&Finding> = attention
                .iter()
                .filter(|f| f.severity == severity)
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "<section class=\"severity\"><h3>{}</h3>",
                severity_title(severity)
            );
            // Failures before warnings within a severity.
            for f in group
                .iter()
                .filter(|f| f.status == Status::Fail)
                .chain(group.iter().filter(|f| f.status != Status::Fail))
            {
                finding_card(&mut out, f);
            }
            out.push_str("</section>\n");
        }
    }
    if !errors.is_empty() {
        out.push_str("<h2>Could not conclude</h2>\n");
        for f in &errors {
            finding_card(&mut out, f);
        }
    }
    if !suppressed.is_empty() {
        out.push_str("<h2>Accepted in the baseline</h2>\n");
        for f in &suppressed {
            finding_card(&mut out, f);
        }
    }
    if !quiet.is_empty() {
        let _ = writeln!(
            out,
            "<details class=\"passed\"><summary>{} passed, {} not run (skipped)</summary>",
            quiet.iter().filter(|f| f.status == Status::Pass).count(),
            quiet.iter().filter(|f| f.status == Status::Skip).count()
        );
        for f in &quiet {
            finding_card(&mut out, f);
        }
        out.push_str("</details>\n");
    }

    if let Some(bits) = &report.entropy_bits {
        out.push_str("<h2>Session id entropy per bit</h2>\n");
        if bits.is_empty() {
            out.push_str("<p class=\"note\">The entropy check measured no bits.</p>\n");
        } else {
            entropy_chart(&mut out, bits);
        }
    }

    let _ = write!(
        out,
        "</main>\n<footer><p>Made by {} {}. Evidence is what the target sent, shown as text; \
         tokens are truncated.</p></footer>\n</body></html>\n",
        escape(&report.tool.name),
        escape(&report.tool.version)
    );
    out
}

fn finding_card(out: &mut String, f: &Finding) {
    let class = status_class(f.status);
    let severity = if matches!(f.status, Status::Fail | Status::Warn) {
        format!("<span class=\"sev\">{}</span>", severity_name(f.severity))
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<article class=\"finding row-{class}\" id=\"check-{}\"><div class=\"head\">\
         <span class=\"status {class}\">{}</span><code>{}</code>{severity}\
         <span class=\"title\">{}</span></div>",
        escape(&f.id),
        label(f.status),
        escape(&f.id),
        escape(&f.title)
    );
    if !f.evidence.is_empty() {
        let _ = write!(out, "<pre class=\"evidence\">{}</pre>", escape(&f.evidence));
    }
    if !f.exchanges.is_empty() {
        let _ = write!(
            out,
            "<details class=\"exchanges\"><summary>Exchanges: the last {} of {}</summary>",
            f.exchanges.len(),
            f.exchanges_total
        );
        for e in &f.exchanges {
            let mut text = e.request.clone();
            for h in &e.request_headers {
                text.push_str("\n  ");
                text.push_str(h);
            }
            text.push_str(&format!("\n→ {}", e.status));
            for h in &e.response_headers {
                text.push_str("\n  ");
                text.push_str(h);
            }
            let _ = write!(out, "<pre>{}</pre>", escape(&text));
        }
        out.push_str("</details>");
    }
    if let Some(s) = &f.suppressed {
        let _ = write!(
            out,
            "<p class=\"note\">Suppressed: accepted in the baseline{}</p>",
            if s.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape(&s.reason))
            }
        );
    }
    if let Some(fix) = &f.fix {
        let _ = write!(
            out,
            "<p class=\"fix\"><b>Fix{}:</b> {} <a href=\"{}\" rel=\"noreferrer\">docs</a></p>",
            fix.stack
                .map(|s| format!(" ({})", escape(s.name())))
                .unwrap_or_default(),
            escape(fix.advice),
            escape(fix.docs)
        );
    }
    if !f.references.is_empty() {
        out.push_str("<ul class=\"refs\">");
        for r in &f.references {
            match super::sarif::help_uri(r) {
                Some(uri) => {
                    let _ = write!(
                        out,
                        "<li><a href=\"{}\" rel=\"noreferrer\">{}</a></li>",
                        escape(&uri),
                        escape(r)
                    );
                }
                None => {
                    let _ = write!(out, "<li>{}</li>", escape(r));
                }
            }
        }
        out.push_str("</ul>");
    }
    out.push_str("</article>\n");
}

/// A severity as a group heading.
fn severity_title(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Informational",
    }
}

/// Draws one bar per bit position (height = entropy in 0..=1), a dashed line at
/// [`ENTROPY_BIT_THRESHOLD`], and labelled axes.
fn entropy_chart(out: &mut String, bits: &[f64]) {
    const W: f64 = 960.0;
    const H: f64 = 300.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 38.0;
    const BOTTOM: f64 = 52.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = bits.len();
    let slot = plot_w / n as f64;
    let bar_w = if slot >= 4.0 { slot * 0.8 } else { slot };
    let y_of = |v: f64| TOP + plot_h * (1.0 - v);
    let values: Vec<f64> = bits
        .iter()
        .map(|v| {
            if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                0.0
            }
        })
        .collect();
    let weak = values
        .iter()
        .filter(|v| **v < ENTROPY_BIT_THRESHOLD)
        .count();
    let (min_at, min) =
        values
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |acc, (i, v)| if v < acc.1 { (i, v) } else { acc },
            );

    let _ = writeln!(
        out,
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"Per-bit entropy of {n} bit positions\" font-family=\"system-ui, sans-serif\" \
         font-size=\"12\">"
    );
    // Horizontal grid and y-axis labels.
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = y_of(tick);
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e3e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#5b6570\">{tick:.2}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
    }
    // The bars.
    for (i, v) in values.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let fill = if *v >= ENTROPY_BIT_THRESHOLD {
            "#66bb6a"
        } else {
            "#e53935"
        };
        let _ = writeln!(
            out,
            "<rect class=\"bit\" x=\"{x:.2}\" y=\"{:.2}\" width=\"{bar_w:.2}\" height=\"{:.2}\" \
             fill=\"{fill}\"><title>bit {i}: {v:.3}</title></rect>",
            y_of(*v),
            plot_h * v
        );
    }
    // Axes.
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#37414b\"/>\
         <line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#37414b\"/>",
        TOP + plot_h,
        TOP + plot_h,
        W - RIGHT,
        TOP + plot_h
    );
    // X-axis labels: at most about 16 of them, on round steps.
    let mut step = 1;
    while n / step > 16 {
        step *= 2;
    }
    for i in (0..n).step_by(step) {
        let x = LEFT + slot * (i as f64 + 0.5);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#37414b\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#5b6570\">{i}</text>",
            TOP + plot_h,
            TOP + plot_h + 4.0,
            TOP + plot_h + 17.0
        );
    }
    // The pass threshold, drawn over the bars, and its legend above the plot.
    let ty = y_of(ENTROPY_BIT_THRESHOLD);
    let _ = writeln!(
        out,
        "<line class=\"threshold\" x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" \
         stroke=\"#b26a00\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
        W - RIGHT
    );
    let _ = writeln!(
        out,
        "<g class=\"legend\" fill=\"#37414b\">\
         <line x1=\"{LEFT}\" y1=\"14\" x2=\"{:.1}\" y2=\"14\" stroke=\"#b26a00\" \
         stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\
         <text x=\"{:.1}\" y=\"18\">pass threshold {ENTROPY_BIT_THRESHOLD:.2}</text>\
         <rect x=\"{:.1}\" y=\"8\" width=\"12\" height=\"12\" fill=\"#66bb6a\"/>\
         <text x=\"{:.1}\" y=\"18\">at or above</text>\
         <rect x=\"{:.1}\" y=\"8\" width=\"12\" height=\"12\" fill=\"#e53935\"/>\
         <text x=\"{:.1}\" y=\"18\">below</text></g>",
        LEFT + 26.0,
        LEFT + 32.0,
        LEFT + 180.0,
        LEFT + 198.0,
        LEFT + 290.0,
        LEFT + 308.0
    );
    // Axis titles.
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#37414b\">bit position</text>\
         <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#37414b\">\
         entropy (bits)</text>\n</svg>\n",
        LEFT + plot_w / 2.0,
        H - 10.0,
        TOP + plot_h / 2.0
    );
    let _ = writeln!(
        out,
        "<figcaption>{n} bit positions; {weak} below {ENTROPY_BIT_THRESHOLD:.2}; \
         lowest {min:.3} at bit {min_at}. A random identifier scores close to 1 at every position.\
         </figcaption></figure>"
    );
}

fn status_class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Warn => "warn",
        Status::Skip => "skip",
        Status::Error => "error",
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// Escapes text for HTML element content and double- or single-quoted attribute values;
/// carriage returns are dropped, other control characters than newline and tab are written as visible `\\xNN` escapes.
/// The one HTML escape of the project: the demo's pages use it too.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if super::text::is_hidden_control(c) => {
                // Shown, never passed on: HTML forbids most of them, and a terminal-bound
                // escape sequence from the target is evidence worth seeing as such.
                let n = u32::from(c);
                let _ = if n < 0x100 {
                    write!(out, "\\x{n:02x}")
                } else {
                    write!(out, "\\u{{{n:x}}}")
                };
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn esc_shows_control_characters() {
        assert_eq!(
            escape("a\u{1b}[2J\u{0}\r\nb\u{85}"),
            "a\\x1b[2J\\x00\nb\\x85"
        );
    }

    #[test]
    fn chart_clamps_values_and_marks_weak_bits() {
        let mut out = String::new();
        entropy_chart(&mut out, &[1.0, 0.2, f64::NAN, 7.0]);
        assert_eq!(out.matches("<rect class=\"bit\"").count(), 4);
        assert_eq!(out.matches("fill=\"#e53935\"><title>").count(), 2);
        assert!(out.contains("2 below 0.90"));
        assert!(!out.contains("NaN"));
    }
}
