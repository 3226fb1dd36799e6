//! What a page links to and what its forms carry, read from hostile HTML in linear time.
//!
//! A tree builder is the wrong tool for an auditor pointed at apps it does not trust: html5ever's
//! walks the open-element stack for every start tag, so a login page followed by a million
//! `<div>`s pinned the CPU for good (80,000 took 88 s). This reads the same tokens a browser's
//! tokenizer does (html5ever's, raw-text elements switched as a browser switches them) and keeps
//! only what the inspector uses, with the input, the links and the forms all bounded.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

/// Bytes of a page read; the rest is not looked at.
pub(crate) const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// Links kept per page.
pub(crate) const MAX_LINKS: usize = 10_000;
/// Forms kept per page.
const MAX_FORMS: usize = 200;
/// Hidden fields kept per form.
const MAX_HIDDEN: usize = 200;

/// One form: where it submits, and its hidden fields in document order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Form {
    action: Option<String>,
    hidden: Vec<(String, String)>,
}

#[derive(Default)]
struct Scan {
    links: Vec<String>,
    forms: Vec<Form>,
    /// The form a field belongs to: a browser ignores a `<form>` inside an open one.
    open_form: Option<usize>,
}

struct Sink(RefCell<Scan>);

fn attr<'a>(tag: &'a Tag, name: &str) -> Option<&'a str> {
    tag.attrs
        .iter()
        .find(|a| a.name.local.as_ref() == name)
        .map(|a| a.value.as_ref())
}

impl Scan {
    fn start(&mut self, tag: &Tag) {
        let name = tag.name.as_ref();
        let link = match name {
            "a" | "link" => attr(tag, "href"),
            "img" | "script" | "iframe" => attr(tag, "src"),
            "form" => attr(tag, "action"),
            "meta" if attr(tag, "http-equiv").is_some() => attr(tag, "content"),
            _ => None,
        };
        if let Some(l) = link {
            if self.links.len() < MAX_LINKS {
                self.links.push(l.to_owned());
            }
        }
        match name {
            "form" if self.open_form.is_none() && self.forms.len() < MAX_FORMS => {
                self.forms.push(Form {
                    action: attr(tag, "action").map(str::to_owned),
                    hidden: Vec::new(),
                });
                self.open_form = Some(self.forms.len() - 1);
            }
            "input" if attr(tag, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")) => {
                let field = attr(tag, "name").map(|n| (n, attr(tag, "value").unwrap_or("")));
                if let (Some(form), Some((n, v))) =
                    (self.open_form.and_then(|i| self.forms.get_mut(i)), field)
                {
                    if form.hidden.len() < MAX_HIDDEN {
                        form.hidden.push((n.to_owned(), v.to_owned()));
                    }
                }
            }
            _ => {}
        }
    }
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let Token::TagToken(tag) = token else {
            return TokenSinkResult::Continue;
        };
        let Ok(mut scan) = self.0.try_borrow_mut() else {
            return TokenSinkResult::Continue;
        };
        if tag.kind == TagKind::EndTag {
            if tag.name.as_ref() == "form" {
                scan.open_form = None;
            }
            return TokenSinkResult::Continue;
        }
        scan.start(&tag);
        // The element content a browser does not read as markup.
        match tag.name.as_ref() {
            _ if tag.self_closing => TokenSinkResult::Continue,
            "script" => TokenSinkResult::RawData(RawKind::ScriptData),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
                TokenSinkResult::RawData(RawKind::Rawtext)
            }
            "textarea" | "title" => TokenSinkResult::RawData(RawKind::Rcdata),
            "plaintext" => TokenSinkResult::Plaintext,
            _ => TokenSinkResult::Continue,
        }
    }
}

fn scan(html: &str) -> Scan {
    let mut end = html.len().min(MAX_PAGE_BYTES);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let tokenizer = Tokenizer::new(
        Sink(RefCell::new(Scan::default())),
        TokenizerOpts::default(),
    );
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(html.get(..end).unwrap_or_default()));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.0.take()
}

/// Every link-like URL in an HTML page (a, link, form, img, script, iframe, meta refresh).
pub(crate) fn links_in(html: &str) -> Vec<String> {
    scan(html).links
}

/// The hidden inputs of the form that submits to `action` (resolved against `page`), else of the
/// first form on the page.
pub(crate) fn hidden_inputs(html: &str, page: &Url, action: &Url) -> Vec<(String, String)> {
    let forms = scan(html).forms;
    let matching = forms.iter().position(|f| {
        let target = f.action.as_deref().unwrap_or("");
        page.join(target).is_ok_and(|u| u.path() == action.path())
    });
    matching
        .or((!forms.is_empty()).then_some(0))
        .and_then(|i| forms.into_iter().nth(i))
        .map(|f| f.hidden)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_hidden_inputs_of_the_matching_form() {
        let html = r#"<form action="/search"><input type="hidden" name="q" value="x"></form>
            <form method="post" action="/login"><input type="hidden" name="csrf" value="abc&amp;d">
            <input type="text" name="username"><input type="HIDDEN" name="next" value="/home"></form>"#;
        let page = Url::parse("http://h/login").unwrap();
        let action = Url::parse("http://h/login").unwrap();
        let got = hidden_inputs(html, &page, &action);
        assert_eq!(
            got,
            vec![
                ("csrf".into(), "abc&d".into()),
                ("next".into(), "/home".into())
            ]
        );
        let other = Url::parse("http://h/elsewhere").unwrap();
        assert_eq!(
            hidden_inputs(html, &page, &other),
            vec![("q".into(), "x".into())]
        );
        assert!(hidden_inputs("<p>no forms</p>", &page, &action).is_empty());
    }

    #[test]
    fn reads_as_a_browser_does() {
        // A nested <form> is ignored by browsers: its fields belong to the outer form.
        let html = r#"<form action="/login"><form action="/evil"><input type="hidden" name="a" value="1"></form>
            <script>"<form action='/x'><input type=hidden name=b value=2>"</script>
            <textarea><a href="/not-a-link"></textarea><a href="/real">r</a>"#;
        let page = Url::parse("http://h/").unwrap();
        let action = Url::parse("http://h/login").unwrap();
        assert_eq!(
            hidden_inputs(html, &page, &action),
            vec![("a".into(), "1".into())]
        );
        let links = links_in(html);
        assert!(links.contains(&"/real".to_owned()) && !links.contains(&"/not-a-link".to_owned()));
        assert!(!links.iter().any(|l| l.contains("/x")), "{links:?}");
    }

    #[test]
    fn collects_links() {
        let links = links_in(
            r#"<a href="/a?sid=1">x</a><form action="/f"></form><img src="i.png"><meta http-equiv="refresh" content="0;url=/r">"#,
        );
        assert_eq!(links, vec!["/a?sid=1", "/f", "i.png", "0;url=/r"]);
    }

    #[test]
    fn hostile_pages_are_linear_and_bounded() {
        // The page that pinned the tree builder: a form, then a million <div>s (about 5 MB).
        let mut html = String::from(
            r#"<form action="/login"><input type="hidden" name="csrf" value="t"></form>"#,
        );
        html.push_str(&"<div>".repeat(1_000_000));
        let (tx, rx) = std::sync::mpsc::channel();
        let page = html.clone();
        std::thread::spawn(move || {
            let url = Url::parse("http://h/login").unwrap();
            let _ = tx.send(hidden_inputs(&page, &url, &url));
        });
        // A bound on a hang, not a speed target: linear work takes well under a second here.
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("parsing a deep page must not hang");
        assert_eq!(got, vec![("csrf".into(), "t".into())]);
        // A link flood keeps at most MAX_LINKS.
        let flood = "<a href=/x>".repeat(MAX_LINKS + 500);
        assert_eq!(links_in(&flood).len(), MAX_LINKS);
    }
}
