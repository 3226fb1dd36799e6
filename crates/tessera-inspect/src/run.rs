//! Runs the checks against a target and assembles the report.

use std::time::Duration;

use crate::agent::{Agent, AgentError, Limits};
use crate::checks::{self, finding, CheckId, Ctx};
use crate::exchange::{scoped, Step};
use crate::login::{login, LoginError};
use crate::report::{Finding, Report, Status};
use crate::target::Target;

/// How an inspection runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tokens sampled for `id-entropy` (default 200).
    pub samples: usize,
    /// Longest time spent sampling tokens.
    pub sample_budget: Duration,
    /// Only these checks (default: all).
    pub checks: Option<Vec<CheckId>>,
    /// Bounds on the inspector's own traffic.
    pub limits: Limits,
    /// Print a progress bar on stderr while sampling.
    pub progress: bool,
    /// The whole run's deadline, from the start of the login (default 30 minutes): a check
    /// still running then is stopped and reported as not run, so a target that answers each
    /// request slowly cannot keep the inspector going for ever.
    pub max_time: Duration,
    /// Run the checks that wait for hours by design (`absolute-timeout`); off by default.
    pub long: bool,
    /// Keep the whole exchange as HAR in [`Report::har`] (`--har`).
    pub har: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            samples: 200,
            sample_budget: Duration::from_secs(180),
            checks: None,
            limits: Limits::default(),
            progress: false,
            max_time: Duration::from_secs(30 * 60),
            long: false,
            har: false,
        }
    }
}

/// Why no report could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// An option is out of range.
    #[error("{0}")]
    BadOption(String),
    /// The target could not be reached or the login did not work.
    #[error(transparent)]
    Login(#[from] LoginError),
}

impl InspectError {
    /// The process exit code this error maps to (2 arguments, 3 target).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::BadOption(_) => 2,
            Self::Login(_) => 3,
        }
    }
}

/// Inspects `target`: signs in, runs the selected checks, returns the report.
pub async fn inspect(target: &Target, options: &Options) -> Result<Report, InspectError> {
    let deadline = tokio::time::Instant::now() + options.max_time;
    let selected: Vec<CheckId> = match &options.checks {
        None => CheckId::ALL.to_vec(),
        Some(list) => CheckId::ALL
            .into_iter()
            .filter(|id| list.contains(id))
            .collect(),
    };
    if options.samples < 2 || options.samples > 20_000 {
        return Err(InspectError::BadOption(
            "--samples must be between 2 and 20000".into(),
        ));
    }
    if let (true, true, Some(limit)) = (
        options.long,
        selected.contains(&CheckId::AbsoluteTimeout),
        target.absolute_timeout,
    ) {
        // The wait, plus room for the logins before it.
        let wait = limit + limit / 10 + Duration::from_secs(2) + LOGIN_ROOM;
        if wait >= options.max_time {
            return Err(InspectError::BadOption(format!(
                "absolute-timeout needs {} s, past --max-time {} s: raise --max-time",
                wait.as_secs(),
                options.max_time.as_secs()
            )));
        }
        // One keep-alive request a step (at most every 30 s, a third of the idle timeout).
        let step = target
            .idle_timeout
            .map_or(Duration::from_secs(30), |i| i / 3)
            .clamp(Duration::from_millis(250), Duration::from_secs(30));
        let requests =
            usize::try_from(wait.as_millis() / step.as_millis().max(1)).unwrap_or(usize::MAX);
        if requests.saturating_add(100) > options.limits.max_requests {
            return Err(InspectError::BadOption(format!(
                "absolute-timeout needs about {requests} keep-alive requests, more than --max-requests {} leaves: raise --max-requests",
                options.limits.max_requests
            )));
        }
    }
    let mut agent = Agent::new(target.base_url.clone(), target.tls_insecure, options.limits)
        .map_err(|e| InspectError::Login(LoginError::Unreachable(e)))?;
    agent.redact_passwords(target.password_values());
    let (baseline, cookie) = match tokio::time::timeout_at(
        deadline,
        scoped(
            Step::Login,
            login(agent.user(), target, target.session_cookie.as_deref()),
        ),
    )
    .await
    {
        Ok(signed_in) => signed_in?,
        Err(_) => {
            return Err(InspectError::Login(LoginError::Rejected {
                step: "login".into(),
                received: "no answer before --max-time".into(),
            }))
        }
    };
    let ctx = Ctx {
        agent: &agent,
        target,
        cookie: cookie.clone(),
        baseline,
    };
    let wants = |id: CheckId| selected.contains(&id);

    // The idle check waits for minutes; it runs beside everything except the password change,
    // which would end its session for the wrong reason.
    let idle = wants(CheckId::IdleTimeout).then(|| {
        if let (true, Some(t)) = (options.progress, target.idle_timeout) {
            eprintln!(
                "idle-timeout: leaving a session idle for {} s, beside the other checks",
                (t + t / 10).as_secs() + 2
            );
        }
        let (agent, target, cookie) = (agent.clone(), target.clone(), cookie.clone());
        tokio::spawn(scoped(Step::Check(CheckId::IdleTimeout), async move {
            checks::idle_timeout(&agent, &target, &cookie).await
        }))
    });

    // The absolute-lifetime check keeps its own session busy for as long as the app promises;
    // like the idle check it runs beside everything but the password change.
    let absolute = match (wants(CheckId::AbsoluteTimeout), options.long) {
        (false, _) => None,
        (true, false) => Some(Err(checks::CheckOutcome {
            status: Status::Skip,
            evidence: match target.absolute_timeout {
                Some(t) => format!(
                    "opt-in: run with --long (it keeps a session active for {} s)",
                    (t + t / 10).as_secs() + 2
                ),
                None => {
                    "no [expiry] absolute_timeout in the target file (and opt-in: --long)".into()
                }
            },
        })),
        (true, true) => {
            let (agent, target, cookie) = (agent.clone(), target.clone(), cookie.clone());
            let show = options.progress;
            Some(Ok(tokio::spawn(scoped(
                Step::Check(CheckId::AbsoluteTimeout),
                async move {
                    let mut last = 0;
                    checks::absolute_timeout(&agent, &target, &cookie, |done, total| {
                        // A line each tenth of the wait, only on a terminal.
                        let tenth = done * 10 / total.max(1);
                        if show && tenth > last {
                            last = tenth;
                            eprintln!("absolute-timeout: session kept active {done} of {total} s");
                        }
                    })
                    .await
                },
            ))))
        }
    };

    let mut found: Vec<Finding> = checks::cookie_checks(&ctx);
    let mut tokens = vec![ctx.baseline.token.clone()];
    tokens.extend(ctx.baseline.pre_login.clone());
    let mut entropy_bits = None;
    if wants(CheckId::IdEntropy) {
        let mut bar = Progress::new(options.progress);
        let sampled = tokio::time::timeout_at(
            deadline,
            scoped(
                Step::Check(CheckId::IdEntropy),
                checks::sample_tokens(
                    &ctx,
                    options.samples,
                    options.sample_budget,
                    |done, total| bar.show(done, total),
                ),
            ),
        )
        .await;
        let v = match sampled {
            Ok(Ok(samples)) => {
                bar.done();
                tokens.extend(samples.iter().cloned());
                let (v, bits) = crate::checks::entropy::judge(&samples, options.samples);
                entropy_bits = bits;
                v
            }
            Ok(Err(e)) => error_verdict(e),
            Err(_) => not_run(),
        };
        found.push(finding(CheckId::IdEntropy, v));
    }
    if wants(CheckId::CookieNameLookalike) {
        found.push(finding(
            CheckId::CookieNameLookalike,
            within(
                deadline,
                CheckId::CookieNameLookalike,
                checks::cookie_name_lookalike(&ctx),
            )
            .await,
        ));
    }
    if wants(CheckId::CookieTossing) {
        found.push(finding(
            CheckId::CookieTossing,
            within(
                deadline,
                CheckId::CookieTossing,
                checks::cookie_tossing(&ctx),
            )
            .await,
        ));
    }
    if wants(CheckId::FixationRotation) {
        found.push(finding(
            CheckId::FixationRotation,
            within(
                deadline,
                CheckId::FixationRotation,
                checks::fixation_rotation(&ctx),
            )
            .await,
        ));
    }
    if wants(CheckId::FixationStrict) {
        found.push(finding(
            CheckId::FixationStrict,
            within(
                deadline,
                CheckId::FixationStrict,
                checks::fixation_strict(&ctx),
            )
            .await,
        ));
    }
    if wants(CheckId::LoginCsrf) {
        found.push(finding(
            CheckId::LoginCsrf,
            within(deadline, CheckId::LoginCsrf, checks::login_csrf(&ctx)).await,
        ));
    }
    if wants(CheckId::LogoutInvalidation) || wants(CheckId::LogoutClearsCookie) {
        let (invalidated, cleared) = match tokio::time::timeout_at(
            deadline,
            scoped(
                Step::Check(CheckId::LogoutInvalidation),
                checks::logout(&ctx),
            ),
        )
        .await
        {
            Ok(pair) => pair,
            Err(_) => (not_run(), not_run()),
        };
        found.push(finding(CheckId::LogoutInvalidation, invalidated));
        found.push(finding(CheckId::LogoutClearsCookie, cleared));
    }
    if wants(CheckId::PrivilegeRotation) {
        found.push(finding(
            CheckId::PrivilegeRotation,
            within(
                deadline,
                CheckId::PrivilegeRotation,
                checks::privilege_rotation(&ctx),
            )
            .await,
        ));
    }
    if wants(CheckId::RotationRace) {
        found.push(finding(
            CheckId::RotationRace,
            within(deadline, CheckId::RotationRace, checks::rotation_race(&ctx)).await,
        ));
    }
    if wants(CheckId::CacheControl) {
        found.push(finding(
            CheckId::CacheControl,
            within(deadline, CheckId::CacheControl, checks::cache_control(&ctx)).await,
        ));
    }
    if wants(CheckId::Hsts) {
        found.push(finding(
            CheckId::Hsts,
            within(deadline, CheckId::Hsts, checks::hsts(&ctx)).await,
        ));
    }
    if wants(CheckId::DeviceBoundSessions) {
        found.push(finding(
            CheckId::DeviceBoundSessions,
            within(
                deadline,
                CheckId::DeviceBoundSessions,
                checks::device_bound_sessions(&ctx),
            )
            .await,
        ));
    }
    if let Some(mut task) = idle {
        let v = match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(done) => {
                done.unwrap_or_else(|e| checks_error(format!("the idle check stopped: {e}")))
            }
            Err(_) => {
                task.abort();
                not_run()
            }
        };
        found.push(finding(CheckId::IdleTimeout, v));
    }
    match absolute {
        None => {}
        Some(Err(skipped)) => found.push(finding(CheckId::AbsoluteTimeout, skipped)),
        Some(Ok(mut task)) => {
            let v = match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(done) => done.unwrap_or_else(|e| {
                    checks_error(format!("the absolute-timeout check stopped: {e}"))
                }),
                Err(_) => {
                    task.abort();
                    not_run()
                }
            };
            found.push(finding(CheckId::AbsoluteTimeout, v));
        }
    }
    if wants(CheckId::PasswordChangeInvalidation) {
        found.push(finding(
            CheckId::PasswordChangeInvalidation,
            // Never cut short: it changes the password and must always change it back. It runs
            // only when the deadline has not passed yet.
            if tokio::time::Instant::now() < deadline {
                scoped(
                    Step::Check(CheckId::PasswordChangeInvalidation),
                    checks::password_change(&ctx),
                )
                .await
            } else {
                not_run()
            },
        ));
    }
    // Last, so every URL the other checks saw is examined.
    if wants(CheckId::IdInUrl) {
        found.push(finding(
            CheckId::IdInUrl,
            within(deadline, CheckId::IdInUrl, checks::id_in_url(&ctx, &tokens)).await,
        ));
    }
    found.retain(|f| selected.iter().any(|id| id.as_str() == f.id));
    found.sort_by_key(|f| CheckId::ALL.iter().position(|id| id.as_str() == f.id));
    let (_, set_cookies) = agent.seen();
    let mut cookie_names: Vec<String> = set_cookies
        .iter()
        .filter_map(|c| c.header.split_once('=').map(|(n, _)| n.trim().to_owned()))
        .collect();
    cookie_names.sort();
    cookie_names.dedup();
    let stack = crate::stack::detect(
        Some((&cookie, &ctx.baseline.token)),
        &cookie_names,
        &agent.hints(),
    );
    attach_exchanges(&agent, &mut found);
    let mut report = Report::new(target.base_url.to_string(), Some(cookie), found);
    report.set_stack(stack);
    if options.har {
        report.har = agent.exchanges(crate::exchange::Recorder::to_har);
    }
    report.entropy_bits = entropy_bits;
    Ok(report)
}

/// Gives each finding the last exchanges of the step that decided it: its check's own, or the
/// baseline login's for the cookie-attribute checks, which judge the login's `Set-Cookie`.
fn attach_exchanges(agent: &Agent, found: &mut [Finding]) {
    let redactor = agent.exchanges(crate::exchange::Recorder::redactor);
    for f in found.iter_mut() {
        let Ok(id) = f.id.parse::<CheckId>() else {
            continue;
        };
        let step = match id {
            CheckId::CookieSecure
            | CheckId::CookieHttpOnly
            | CheckId::CookieSamesite
            | CheckId::CookiePrefix
            | CheckId::CookieScope => Step::Login,
            CheckId::LogoutClearsCookie => Step::Check(CheckId::LogoutInvalidation),
            other => Step::Check(other),
        };
        if let Some((shown, total)) = redactor
            .as_ref()
            .and_then(|red| agent.exchanges(|r| r.evidence(step, red)))
        {
            f.exchanges = shown;
            f.exchanges_total = total;
        }
    }
}

/// Time left for the logins that come before the absolute-lifetime wait.
const LOGIN_ROOM: Duration = Duration::from_secs(60);

/// A check cut short by `--max-time`.
fn not_run() -> checks::CheckOutcome {
    checks_error(
        "not run to the end: the run's --max-time was reached (this report is partial)".into(),
    )
}

/// `check` (its requests tagged as `id`'s), or [`not_run`] if the deadline comes first.
async fn within(
    deadline: tokio::time::Instant,
    id: CheckId,
    check: impl std::future::Future<Output = checks::CheckOutcome>,
) -> checks::CheckOutcome {
    tokio::time::timeout_at(deadline, scoped(Step::Check(id), check))
        .await
        .unwrap_or_else(|_| not_run())
}

fn error_verdict(e: AgentError) -> checks::CheckOutcome {
    checks_error(format!("could not complete: {e}"))
}

fn checks_error(evidence: String) -> checks::CheckOutcome {
    checks::CheckOutcome {
        status: Status::Error,
        evidence,
    }
}

/// A one-line progress bar on stderr.
struct Progress {
    on: bool,
    last: usize,
}

impl Progress {
    fn new(on: bool) -> Self {
        Self {
            on,
            last: usize::MAX,
        }
    }

    fn show(&mut self, done: usize, total: usize) {
        if !self.on || total == 0 {
            return;
        }
        let width = 30;
        let filled = done.min(total) * width / total;
        if filled == self.last {
            return;
        }
        self.last = filled;
        eprint!(
            "\rsampling tokens [{}{}] {done}/{total}",
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
    }

    fn done(&mut self) {
        if self.on {
            eprintln!();
        }
    }
}
