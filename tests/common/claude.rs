//! Claude Code as a test client: its binary and the offline print-mode command the suites run it with.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Claude Code binary: `$CLAUDE_BIN`, else the npm install that `.ci/suites/sdk.sh` makes.
pub fn claude_binary() -> PathBuf {
    std::env::var_os("CLAUDE_BIN").map(Into::into).unwrap_or_else(|| "/opt/claude-code/node_modules/.bin/claude".into())
}

/// `claude -p prompt --model model` against the gateway at `url`, offline, with `home` as its home and working
/// directory and a client key of its own (tests override it with `.env`).
pub fn claude_command(url: &str, model: &str, prompt: &str, home: &Path) -> Command {
    std::fs::create_dir_all(home).unwrap();
    let mut command = Command::new(claude_binary());
    command
        .args(["-p", prompt, "--model", model, "--allowedTools", "Bash(echo:*)"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ANTHROPIC_BASE_URL", url)
        .env("ANTHROPIC_API_KEY", "sk-ant-test-client")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .current_dir(home);
    command
}
