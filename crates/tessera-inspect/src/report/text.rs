//! The terminal renderer: a table of findings with wrapped evidence and a summary line.
//!
//! Everything that came from the target (evidence above all, but also the cookie name and the
//! target URL as typed) goes through [`clean`], which shows control characters as escapes: a
//! hostile app must not be able to move the cursor, recolour or clear the auditor's terminal.

use super::{Report, Status, Summary};

/// The column evidence is wrapped at.
const WIDTH: usize = 100;
/// Where the evidence and reference lines start.
const INDENT: usize = 8;

/// Renders `report` as text; ANSI colour codes only when `colour`.
pub(super) fn render(report: &Report, colour: bool) -> String {
    let mut out = String::new();
    let heading = format!(
        "{} {} inspection report",
        clean(&report.tool.name),
        clean(&report.tool.version)
    );
    out.push_str(&paint(&heading, "1", colour));
    out.push('\n');
    out.push_str(&format!("Target:         {}\n", clean(&report.target)));
    let cookie = report
        .session_cookie
        .as_deref()
        .map_or_else(|| "(none found)".to_owned(), clean);
    out.push_str(&format!("Session cookie: {cookie}\n"));
    match &report.stack {
        Some(d) => out.push_str(&format!(
            "Stack:          {} ({} confidence: {})\n\n",
            d.name,
            confidence(d.confidence),
            clean(&d.signals.join(", "))
        )),
        None => out.push_str("Stack:          not recognised (fixes are generic)\n\n"),
    }

    let id_width = report
        .findings
        .iter()
        .map(|f| clean(&f.id).chars().count())
        .chain(std::iter::once("CHECK".len()))
        .max()
        .unwrap_or(0);
    out.push_str(&paint(
        &format!("{:<6} {:<id_width$}  TITLE", "STATUS", "CHECK"),
        "1",
        colour,
    ));
    out.push('\n');
    let indent = " ".repeat(INDENT);
    for f in &report.findings {
        // Pad before painting so the escape codes do not upset the alignment.
        let label = format!("{:<6}", label(f.status));
        out.push_str(&format!(
            "{} {:<id_width$}  {}\n",
            paint(&label, status_code(f.status), colour),
            clean(&f.id),
            clean(&f.title)
        ));
        for line in wrap(&clean_multiline(&f.evidence), WIDTH - INDENT) {
            out.push_str(&indent);
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(s) = &f.suppressed {
            let why = if s.reason.is_empty() {
                "Suppressed: accepted in the baseline".to_owned()
            } else {
                format!(
                    "Suppressed: accepted in the baseline ({})",
                    clean(&s.reason)
                )
            };
            for line in wrap(&why, WIDTH - INDENT) {
                out.push_str(&indent);
                out.push_str(&paint(&line, "2", colour));
                out.push('\n');
            }
        }
        if let Some(fix) = &f.fix {
            let head = match fix.stack {
                Some(s) => format!("Fix ({}): ", s.name()),
                None => "Fix: ".to_owned(),
            };
            for line in wrap(
                &format!("{head}{} Docs: {}", fix.advice, fix.docs),
                WIDTH - INDENT,
            ) {
                out.push_str(&indent);
                out.push_str(&paint(&line, "36", colour));
                out.push('\n');
            }
        }
        if !f.references.is_empty() {
            let refs: Vec<String> = f.references.iter().map(|r| clean(r)).collect();
            let joined = format!("See: {}", refs.join(", "));
            for line in wrap(&joined, WIDTH - INDENT) {
                out.push_str(&indent);
                out.push_str(&paint(&line, "2", colour));
                out.push('\n');
            }
        }
    }
    out.push('\n');
    out.push_str(&summary_line(&report.summary));
    out.push('\n');
    out
}

/// `3 passed, 1 failed, 1 warning, 2 skipped, 0 errors` (and `, 2 suppressed by the
/// baseline` when a baseline accepted some).
pub(super) fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{} passed, {} failed, {} {}, {} skipped, {} {}",
        s.pass,
        s.fail,
        s.warn,
        if s.warn == 1 { "warning" } else { "warnings" },
        s.skip,
        s.error,
        if s.error == 1 { "error" } else { "errors" },
    );
    if s.suppressed > 0 {
        line.push_str(&format!(", {} suppressed by the baseline", s.suppressed));
    }
    line
}

/// A confidence as the reports write it.
pub(super) fn confidence(c: crate::stack::Confidence) -> &'static str {
    match c {
        crate::stack::Confidence::Medium => "medium",
        crate::stack::Confidence::High => "high",
    }
}

/// The status as the table shows it.
pub(super) fn label(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Warn => "WARN",
        Status::Skip => "SKIP",
        Status::Error => "ERROR",
    }
}

/// SGR parameters for a status: green, bold red, yellow, dim, magenta.
fn status_code(status: Status) -> &'static str {
    match status {
        Status::Pass => "32",
        Status::Fail => "1;31",
        Status::Warn => "33",
        Status::Skip => "2",
        Status::Error => "35",
    }
}

fn paint(text: &str, sgr: &str, colour: bool) -> String {
    if colour {
        format!("\u{1b}[{sgr}m{text}\u{1b}[0m")
    } else {
        text.to_owned()
    }
}

/// One line of untrusted text with every control character (C0, DEL, C1, and the bidi
/// overrides that can reorder what a terminal shows) written as a visible escape.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_clean(&mut out, c);
    }
    out
}

/// Like [`clean`], but newlines stay (as line breaks for [`wrap`]) and tabs become spaces.
fn clean_multiline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push(' '),
            '\r' => {}
            c => push_clean(&mut out, c),
        }
    }
    out
}

/// True for the characters that must never reach a terminal or a page raw: control characters
/// (C0, DEL, C1) and the bidi embeddings, overrides and isolates that reorder what is shown.
pub(crate) fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
}

fn push_clean(out: &mut String, c: char) {
    if is_hidden_control(c) {
        let n = u32::from(c);
        if n < 0x100 {
            out.push_str(&format!("\\x{n:02x}"));
        } else {
            out.push_str(&format!("\\u{{{n:x}}}"));
        }
    } else {
        out.push(c);
    }
}

/// Word-wraps `text` to lines of at most `width` characters, keeping its own line breaks and
/// breaking words longer than a line (tokens, URLs) wherever they reach the edge.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0usize;
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let wlen = word.chars().count();
            if len > 0 && len + 1 + wlen <= width {
                line.push(' ');
                line.push_str(word);
                len += 1 + wlen;
                continue;
            }
            if len > 0 {
                lines.push(std::mem::take(&mut line));
                len = 0;
            }
            // `word` starts a line; hard-break it if it is longer than one.
            for c in word.chars() {
                if len == width {
                    lines.push(std::mem::take(&mut line));
                    len = 0;
                }
                line.push(c);
                len += 1;
            }
        }
        lines.push(line);
    }
    // Drop trailing empty lines (an evidence string ending in a newline), keep inner ones.
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_within_width_and_breaks_long_words() {
        let text = format!("short words here {} tail", "x".repeat(25));
        let lines = wrap(&text, 10);
        assert!(lines.iter().all(|l| l.chars().count() <= 10), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn wrap_keeps_paragraphs_and_drops_trailing_blank_lines() {
        assert_eq!(wrap("a\n\nb\n", 10), vec!["a", "", "b"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("a\u{1b}[2Jb\u{7}"), "a\\x1b[2Jb\\x07");
        assert_eq!(clean("\u{202e}gnp"), "\\u{202e}gnp");
        assert_eq!(clean_multiline("x\r\ny\tz"), "x\ny z");
    }

    #[test]
    fn summary_pluralises_warnings_and_errors() {
        let s = Summary {
            pass: 3,
            fail: 1,
            warn: 1,
            skip: 2,
            error: 0,
            suppressed: 0,
        };
        assert_eq!(
            summary_line(&s),
            "3 passed, 1 failed, 1 warning, 2 skipped, 0 errors"
        );
    }
}
