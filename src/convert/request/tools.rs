//! `tools` and `tool_choice`, and the collection of every tool name a
//! request mentions (so the rewrite map covers the whole history).

use serde_json_borrow::{Map, Value as Json};

use super::chat::{FunctionName, FunctionTool, Parameters, Tool, ToolChoice};
use super::{field, invalid, member};
use crate::convert::errors::ConvertError;
use crate::convert::options::ConvertOptions;
use crate::convert::tool_names::ToolNames;

/// Registers the names of client tools, of `tool_choice` and of every
/// `tool_use` in the history. Shapes are checked loosely here; the
/// conversion proper reports malformed blocks with their path.
pub(super) fn collect_names(body: &Map<'_>, opts: &ConvertOptions) -> Result<ToolNames, ConvertError> {
    let mut names = ToolNames::new(opts.rewrite_tool_names);
    let mut register = |name: &str, path: &dyn Fn() -> String| {
        names.register(name).map_err(|collision| invalid(path(), collision.to_string()))
    };
    for (i, tool) in tool_list(body)?.iter().enumerate() {
        if let Some(name) = member(tool, "name").and_then(Json::as_str) {
            register(name, &|| format!("tools[{i}].name"))?;
        }
    }
    if let Some(name) = field(body, "tool_choice").and_then(|c| member(c, "name")).and_then(Json::as_str) {
        register(name, &|| "tool_choice.name".to_string())?;
    }
    let messages = body.get("messages").and_then(Json::as_array);
    for (i, message) in messages.into_iter().flatten().enumerate() {
        let blocks = member(message, "content").and_then(Json::as_array);
        for (j, block) in blocks.into_iter().flatten().enumerate() {
            if member(block, "type").and_then(Json::as_str) != Some("tool_use") {
                continue;
            }
            if let Some(name) = member(block, "name").and_then(Json::as_str) {
                register(name, &|| format!("messages[{i}].content[{j}].name"))?;
            }
        }
    }
    Ok(names)
}

/// `tools`, `tool_choice` and `parallel_tool_calls`. Client tools become
/// functions. Server tools (a `type` other than `custom`, e.g.
/// `web_search_20250305`) run at Anthropic and have no schema an OpenAI
/// provider could call, so they are dropped; without any tool left,
/// `tool_choice` is dropped too (OpenAI rejects it without tools).
pub(super) fn convert<'a>(body: &'a Map<'a>, names: &ToolNames) -> Result<Tools<'a>, ConvertError> {
    let mut tools = Tools { functions: Vec::new(), choice: None, parallel_tool_calls: None };
    for (i, tool) in tool_list(body)?.iter().enumerate() {
        if let Some(function) = function_tool(tool, i, names)? {
            tools.functions.push(function);
        }
    }
    if let Some(choice) = field(body, "tool_choice").filter(|_| !tools.functions.is_empty()) {
        let (choice, parallel) = tool_choice(choice, names)?;
        (tools.choice, tools.parallel_tool_calls) = (Some(choice), parallel);
    }
    Ok(tools)
}

/// The tool members of the OpenAI request.
pub(super) struct Tools<'a> {
    pub functions: Vec<Tool<'a>>,
    pub choice: Option<ToolChoice<'a>>,
    pub parallel_tool_calls: Option<bool>,
}

fn tool_list<'a>(body: &'a Map<'a>) -> Result<&'a [Json<'a>], ConvertError> {
    match field(body, "tools") {
        None => Ok(&[]),
        Some(tools) => tools.as_array().ok_or_else(|| invalid("tools", "must be an array")),
    }
}

fn function_tool<'a>(tool: &'a Json<'a>, i: usize, names: &ToolNames) -> Result<Option<Tool<'a>>, ConvertError> {
    let tool = tool.as_object().ok_or_else(|| invalid(format!("tools[{i}]"), "must be an object"))?;
    let kind = field(tool, "type").and_then(Json::as_str);
    let schema = field(tool, "input_schema");
    if !matches!(kind, None | Some("custom")) && schema.is_none() {
        return Ok(None);
    }
    let name = field(tool, "name")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid(format!("tools[{i}].name"), "must be a string"))?;
    let parameters = match schema {
        None => Parameters::NoArguments,
        Some(schema) if schema.is_object() => Parameters::Schema(schema),
        Some(_) => return Err(invalid(format!("tools[{i}].input_schema"), "must be an object")),
    };
    let description = field(tool, "description").and_then(Json::as_str);
    let function = FunctionTool { name: names.to_upstream(name), description, parameters };
    Ok(Some(Tool { kind: "function", function }))
}

/// `tool_choice`, and `parallel_tool_calls: false` when the client disabled parallel tool use.
fn tool_choice<'a>(choice: &'a Json<'a>, names: &ToolNames) -> Result<(ToolChoice<'a>, Option<bool>), ConvertError> {
    let kind =
        member(choice, "type").and_then(Json::as_str).ok_or_else(|| invalid("tool_choice.type", "must be a string"))?;
    let openai = match kind {
        "auto" => ToolChoice::Mode("auto"),
        "any" => ToolChoice::Mode("required"),
        "none" => ToolChoice::Mode("none"),
        "tool" => {
            let name = member(choice, "name")
                .and_then(Json::as_str)
                .ok_or_else(|| invalid("tool_choice.name", "must be a string"))?;
            ToolChoice::Function { kind: "function", function: FunctionName { name: names.to_upstream(name) } }
        }
        other => {
            return Err(invalid(
                "tool_choice.type",
                format!("unknown tool_choice type {other:?}; expected auto, any, tool or none"),
            ))
        }
    };
    let parallel = matches!(member(choice, "disable_parallel_tool_use"), Some(Json::Bool(true))).then_some(false);
    Ok((openai, parallel))
}
