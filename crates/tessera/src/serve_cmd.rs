//! `tessera serve`, `tessera api-key …` and `tessera config check`: thin shells over
//! `tessera-serve`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tessera_serve::{Config, Overrides, Scope, Service};

use crate::store_url::AnyStore;

/// The store when none is configured: a SQLite file in the working directory.
pub(crate) const DEFAULT_STORE: &str = "sqlite://tessera.db";

/// Where the configuration comes from; shared by every command that opens the service's store.
#[derive(Debug, clap::Args)]
pub(crate) struct Source {
    /// TOML configuration file (see docs/api.md). Also TESSERA_CONFIG.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Session store URL (default sqlite://tessera.db). Also TESSERA_STORE.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

/// `tessera serve`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    source: Source,
    /// Address to listen on (default 127.0.0.1:7878). Also TESSERA_LISTEN.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Serve plain HTTP on a non-loopback address because a TLS proxy sits in front. Unsafe
    /// without one: tokens and API keys would cross the network in the clear.
    #[arg(long)]
    dangerously_serve_plain_http_behind_tls_proxy: bool,
}

/// `tessera api-key …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a key and print its secret (once; the store keeps only a hash).
    Create {
        /// A name for people (1 to 64 of A-Z a-z 0-9 space . _ -).
        name: String,
        /// Scopes, comma-separated: read, write, admin.
        #[arg(long, value_delimiter = ',', required = true, value_parser = parse_scope)]
        scope: Vec<Scope>,
        #[command(flatten)]
        source: Source,
    },
    /// List the live keys (never their secrets).
    List {
        #[command(flatten)]
        source: Source,
    },
    /// Revoke a key by its id (from `list`).
    Revoke {
        /// The key's id.
        id: String,
        #[command(flatten)]
        source: Source,
    },
}

/// `tessera config …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate a configuration file; exit 0 if `tessera serve` would accept it, 2 if not.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text).ok_or_else(|| format!("{text:?} is not a scope (read, write, admin)"))
}

fn load(source: &Source, flags: Overrides) -> anyhow::Result<Config> {
    let path = source
        .config
        .clone()
        .or_else(|| std::env::var_os("TESSERA_CONFIG").map(PathBuf::from));
    let flags = Overrides {
        store: source.store.clone(),
        ..flags
    };
    Ok(Config::load(
        path.as_deref(),
        Overrides::from_env().then(flags),
    )?)
}

async fn open(config: &Config) -> anyhow::Result<(Service<AnyStore>, String)> {
    let url = config.store.as_deref().unwrap_or(DEFAULT_STORE);
    let store = crate::store_url::open(url).await?;
    let described = store.describe();
    Ok((Service::new(store, config)?, described))
}

/// Runs the service until Ctrl-C or SIGTERM.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::init_logging("info");
    let config = match load(
        &args.source,
        Overrides {
            listen: args.listen.clone(),
            store: None,
            plain_http_behind_proxy: args.dangerously_serve_plain_http_behind_tls_proxy,
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tessera: config: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    crate::block_on(async move {
        let (service, described) = open(&config).await?;
        let tls = match &config.tls {
            Some(t) => Some(tessera_serve::tls::load(&t.cert, &t.key)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listen = config.listen;
        if config.plain_http_behind_proxy && tls.is_none() && !listen.ip().is_loopback() {
            tracing::warn!(
                "serving PLAIN HTTP on {listen}: only safe if a TLS proxy is the sole way in"
            );
        }
        let first = service
            .keys()
            .bootstrap()
            .await
            .context("cannot create the first admin API key")?;
        service.engine().spawn_purge(Duration::from_secs(60));
        eprintln!("Tessera serve on {scheme}://{listen}  (store: {described})");
        if let Some(first) = first {
            // Shown once, on stdout (never through the log): the store keeps only its hash.
            println!(
                "First start of this store: an admin API key was created. It is shown this once:"
            );
            println!();
            println!("    {}", first.secret);
            println!();
            println!(
                "Use it as `Authorization: Bearer <key>`. API: {scheme}://{listen}/v1/openapi.json"
            );
        }
        crate::serve_with(listen, service.router(), tls).await
    })??;
    Ok(ExitCode::SUCCESS)
}

/// `tessera api-key …`.
pub(crate) fn keys(command: KeyCommand) -> anyhow::Result<ExitCode> {
    let source = match &command {
        KeyCommand::Create { source, .. }
        | KeyCommand::List { source }
        | KeyCommand::Revoke { source, .. } => source,
    };
    let config = load(source, Overrides::default())?;
    crate::block_on(async move {
        let (service, _) = open(&config).await?;
        match command {
            KeyCommand::Create { name, scope, .. } => {
                let made = service.keys().create(&name, &scope).await?;
                let scopes: Vec<&str> = made.key.scopes.iter().map(|s| s.as_str()).collect();
                eprintln!(
                    "API key {:?} (id {}, scopes {}, expires {}). The secret is shown this once:",
                    made.key.name,
                    made.key.id,
                    scopes.join(","),
                    made.key.expires_at
                );
                println!("{}", made.secret);
            }
            KeyCommand::List { .. } => {
                for k in service.keys().list().await? {
                    let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
                    println!(
                        "{}  {:<24} {:<16} created {}  last used {}  expires {}",
                        k.id,
                        k.name,
                        scopes.join(","),
                        k.created_at,
                        k.last_used,
                        k.expires_at
                    );
                }
            }
            KeyCommand::Revoke { id, .. } => {
                if !service.keys().revoke(&id).await? {
                    anyhow::bail!("no live API key has the id {id:?}");
                }
                eprintln!("revoked");
            }
        }
        anyhow::Ok(())
    })??;
    Ok(ExitCode::SUCCESS)
}

/// `tessera config check FILE`.
pub(crate) fn config(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Check { file } = command;
    match Config::load(Some(&file), Overrides::default()) {
        Ok(c) => {
            println!(
                "{}: ok (listen {}, store {}, {})",
                file.display(),
                c.listen,
                c.store.as_deref().unwrap_or(DEFAULT_STORE),
                if c.tls.is_some() { "TLS" } else { "plain HTTP" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("tessera: config: {e}");
            Ok(ExitCode::from(2))
        }
    }
}
