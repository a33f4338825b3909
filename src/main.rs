//! The `gatehouse` binary: read configuration, start logging, serve.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use gatehouse::config::{load_from, ConfigSource};

const USAGE: &str = "usage: gatehouse [--config PATH] [--check]

  --config PATH   TOML configuration file (else $GATEHOUSE_CONFIG, else ./gatehouse.toml when present)
  --check         validate the configuration and exit
  --version       print the version

Environment variables override the file; see docs/configuration.md.";

struct Args {
    config: Option<PathBuf>,
    check: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args { config: None, check: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" | "-c" => args.config = Some(it.next().ok_or("--config needs a path")?.into()),
            "--check" => args.check = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--version" | "-V" => {
                println!("gatehouse {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            other => match other.strip_prefix("--config=") {
                Some(path) => args.config = Some(path.into()),
                None => return Err(format!("unknown argument '{other}'\n\n{USAGE}")),
            },
        }
    }
    Ok(Some(args))
}

fn init_logging(level_from_config: Option<&str>) {
    let level =
        std::env::var("LOG_LEVEL").ok().or(level_from_config.map(str::to_string)).unwrap_or_else(|| "info".into());
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level.to_ascii_lowercase())).init();
}

fn main() -> ExitCode {
    gatehouse::allocator::tune();
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            return ExitCode::from(2);
        }
    };
    let source = ConfigSource::from_process(args.config);
    let settings = match load_from(&source) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("gatehouse: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("configuration is valid ({} providers)", settings.snapshot.providers.len());
        return ExitCode::SUCCESS;
    }
    init_logging(settings.listen.log_level.as_deref());
    let address = format!("{}:{}", settings.listen.host, settings.listen.port);
    let listener = match TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("gatehouse: cannot listen on {address}: {error}");
            return ExitCode::from(1);
        }
    };
    for provider in settings.snapshot.providers.values() {
        log::info!(
            "provider {} ({}, {} auth, {} keys) -> {}",
            provider.name,
            provider.format,
            provider.auth.mode(),
            provider.key_count(),
            provider.endpoint
        );
    }
    log::info!(
        "gatehouse {} listening on http://{address} (default provider: {})",
        env!("CARGO_PKG_VERSION"),
        settings.snapshot.default_provider
    );
    let result = actix_rt::System::new().block_on(async move {
        let server = gatehouse::serve(settings, source, listener)?;
        server.await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatehouse: server error: {error}");
            ExitCode::from(1)
        }
    }
}
