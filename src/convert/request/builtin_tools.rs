//! Anthropic-defined tools by `type`. Client-run ones that a model elsewhere can call just as well (`bash_*`,
//! `text_editor_*`) are expanded into function tools with the input schema Anthropic documents for them, so the
//! client that runs them receives the same calls. Server tools run on Anthropic's servers and have no
//! counterpart an OpenAI-format provider could run: they are refused, except web search where the provider
//! option maps it to `web_search_options`.

use std::sync::LazyLock;

use serde_json::{json, Value};

/// What a typed tool becomes.
pub(super) enum Builtin {
    /// A function tool with this description and parameters.
    Function { description: &'static str, parameters: &'static Value },
    /// Anthropic's web search.
    WebSearch,
    /// Refused, with the reason.
    Refused(String),
}

const BASH_DESCRIPTION: &str = "Run a command in a persistent bash session. The working directory and environment \
     carry over from one call to the next; set restart to start a fresh session.";

const EDITOR_DESCRIPTION: &str = "View, create and edit text files. view: show a file with line numbers, or list a \
     directory; create: write a new file with file_text; str_replace: replace the one exact occurrence of old_str \
     with new_str; insert: insert new_str after line insert_line (0: at the top).";

const EDITOR_DESCRIPTION_WITH_UNDO: &str = "View, create and edit text files. view: show a file with line numbers, \
     or list a directory; create: write a new file with file_text; str_replace: replace the one exact occurrence of \
     old_str with new_str; insert: insert new_str after line insert_line (0: at the top); undo_edit: revert the \
     last edit of the file.";

static BASH: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command to run."},
            "restart": {"type": "boolean", "description": "Restart the session instead of running a command."}
        }
    })
});

fn editor_schema(commands: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": {
            "command": {"type": "string", "enum": commands, "description": "The operation."},
            "path": {"type": "string", "description": "Absolute path of the file or directory."},
            "file_text": {"type": "string", "description": "create: the content of the new file."},
            "old_str": {"type": "string", "description": "str_replace: the exact text to replace (it must occur once)."},
            "new_str": {"type": "string", "description": "str_replace: the replacement; insert: the text to insert."},
            "insert_line": {"type": "integer", "description": "insert: the line after which to insert (0: at the top)."},
            "view_range": {
                "type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2,
                "description": "view: first and last line to show, from 1 (-1 as last: to the end)."
            }
        },
        "required": ["command", "path"]
    })
}

static EDITOR: LazyLock<Value> = LazyLock::new(|| editor_schema(&["view", "create", "str_replace", "insert"]));
static EDITOR_WITH_UNDO: LazyLock<Value> =
    LazyLock::new(|| editor_schema(&["view", "create", "str_replace", "insert", "undo_edit"]));

/// Server tools by type prefix, refused with a reason (web search has its own rule).
const SERVER_TOOLS: [&str; 5] = ["web_fetch_", "code_execution_", "memory_", "tool_search_tool_", "mcp_toolset"];

/// What tool `kind` (a `type` other than `custom`, without an `input_schema`) becomes.
pub(super) fn builtin(kind: &str) -> Builtin {
    if kind.starts_with("bash_") {
        return Builtin::Function { description: BASH_DESCRIPTION, parameters: &BASH };
    }
    if let Some(version) = kind.strip_prefix("text_editor_") {
        // The first two versions (str_replace_editor) have undo_edit; it was removed in text_editor_20250429.
        return match version {
            "20241022" | "20250124" => {
                Builtin::Function { description: EDITOR_DESCRIPTION_WITH_UNDO, parameters: &EDITOR_WITH_UNDO }
            }
            _ => Builtin::Function { description: EDITOR_DESCRIPTION, parameters: &EDITOR },
        };
    }
    if kind.starts_with("web_search_") {
        return Builtin::WebSearch;
    }
    if SERVER_TOOLS.iter().any(|prefix| kind.starts_with(prefix)) {
        return Builtin::Refused(format!(
            "server tool {kind:?} runs on Anthropic's servers; an OpenAI-format provider cannot run it (remove \
             the tool, or route the request to an Anthropic-format provider)"
        ));
    }
    Builtin::Refused(format!(
        "tool type {kind:?} is not supported for OpenAI-format providers; define it as a custom tool with an \
         input_schema, or route the request to an Anthropic-format provider"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tools_expand_and_server_tools_are_refused() {
        let Builtin::Function { parameters, .. } = builtin("bash_20250124") else { panic!("bash expands") };
        assert_eq!(parameters["properties"]["command"]["type"], "string");
        let Builtin::Function { parameters, description } = builtin("text_editor_20250728") else { panic!() };
        assert_eq!(parameters["properties"]["command"]["enum"], json!(["view", "create", "str_replace", "insert"]));
        assert!(!description.contains("undo_edit"));
        let Builtin::Function { parameters, .. } = builtin("text_editor_20250124") else { panic!() };
        assert_eq!(parameters["properties"]["command"]["enum"][4], "undo_edit");
        assert!(matches!(builtin("web_search_20250305"), Builtin::WebSearch));
        for refused in ["web_fetch_20250910", "code_execution_20250825", "memory_20250818", "computer_20250124"] {
            let Builtin::Refused(reason) = builtin(refused) else { panic!("{refused} is refused") };
            assert!(reason.contains(refused), "{reason}");
        }
    }
}
