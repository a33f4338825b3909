//! `tools` and `tool_choice`, and the collection of every tool name a
//! request mentions (so the rewrite map covers the whole history).

use serde_json_borrow::{Map, Value as Json};

use super::builtin_tools::{builtin, Builtin};
use super::chat::{
    Approximate, FunctionName, FunctionTool, Parameters, Tool, ToolChoice, UserLocation, WebSearchOptions,
};
use super::{field, invalid, member};
use crate::convert::errors::ConvertError;
use crate::convert::options::{ConvertOptions, WebSearch};
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

/// `tools`, `tool_choice`, `parallel_tool_calls` and `web_search_options`. Client tools become functions;
/// Anthropic-defined tools by type are expanded, mapped or refused (see `builtin_tools`). Without any function
/// left, `tool_choice` is dropped (OpenAI rejects it without tools) unless it asked for a tool use that cannot
/// happen.
pub(super) fn convert<'a>(
    body: &'a Map<'a>,
    names: &ToolNames,
    opts: &ConvertOptions,
) -> Result<Tools<'a>, ConvertError> {
    let mut tools = Tools { functions: Vec::new(), choice: None, parallel_tool_calls: None, web_search: None };
    let mut web_search_name = None;
    for (i, tool) in tool_list(body)?.iter().enumerate() {
        match function_tool(tool, i, names)? {
            Converted::Function(function) => tools.functions.push(function),
            Converted::WebSearch(name) => {
                tools.web_search = Some(web_search(tool, i, opts)?);
                web_search_name = name;
            }
        }
    }
    let Some(choice) = field(body, "tool_choice") else { return Ok(tools) };
    let (choice, parallel, named) = tool_choice(choice, names)?;
    if let Some(name) = named {
        if Some(name) == web_search_name {
            return Err(invalid(
                "tool_choice.name",
                format!("{name:?} is web search, which this provider runs as web_search_options and cannot force"),
            ));
        }
        let known = tool_list(body)?.iter().any(|t| member(t, "name").and_then(Json::as_str) == Some(name));
        if !known {
            return Err(invalid("tool_choice.name", format!("{name:?} is not one of the request's tools")));
        }
    }
    if tools.functions.is_empty() {
        if matches!(choice, ToolChoice::Mode("required")) && tools.web_search.is_some() {
            return Err(invalid(
                "tool_choice.type",
                "\"any\" cannot be honoured: the only tool is web search, which this provider runs as \
                 web_search_options and cannot force",
            ));
        }
        return Ok(tools);
    }
    (tools.choice, tools.parallel_tool_calls) = (Some(choice), parallel);
    Ok(tools)
}

/// The tool members of the OpenAI request.
pub(super) struct Tools<'a> {
    pub functions: Vec<Tool<'a>>,
    pub choice: Option<ToolChoice<'a>>,
    pub parallel_tool_calls: Option<bool>,
    pub web_search: Option<WebSearchOptions<'a>>,
}

enum Converted<'a> {
    Function(Tool<'a>),
    /// A web search tool (its name, if it has one), for `web_search_options`.
    WebSearch(Option<&'a str>),
}

fn tool_list<'a>(body: &'a Map<'a>) -> Result<&'a [Json<'a>], ConvertError> {
    match field(body, "tools") {
        None => Ok(&[]),
        Some(tools) => tools.as_array().ok_or_else(|| invalid("tools", "must be an array")),
    }
}

fn function_tool<'a>(tool: &'a Json<'a>, i: usize, names: &ToolNames) -> Result<Converted<'a>, ConvertError> {
    let tool = tool.as_object().ok_or_else(|| invalid(format!("tools[{i}]"), "must be an object"))?;
    let kind = match field(tool, "type") {
        None => None,
        Some(Json::Str(kind)) => Some(kind.as_ref()),
        Some(_) => return Err(invalid(format!("tools[{i}].type"), "must be a string")),
    };
    let schema = field(tool, "input_schema");
    let name = || {
        field(tool, "name")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(format!("tools[{i}].name"), "must be a string"))
    };
    let (description, parameters) = match (kind, schema) {
        (None | Some("custom"), None) => (field(tool, "description").and_then(Json::as_str), Parameters::NoArguments),
        (_, Some(schema)) if schema.is_object() => {
            (field(tool, "description").and_then(Json::as_str), Parameters::Schema(schema))
        }
        (_, Some(_)) => return Err(invalid(format!("tools[{i}].input_schema"), "must be an object")),
        (Some(kind), None) => match builtin(kind) {
            Builtin::Function { description, parameters } => (Some(description), Parameters::Builtin(parameters)),
            Builtin::WebSearch => return Ok(Converted::WebSearch(field(tool, "name").and_then(Json::as_str))),
            Builtin::Refused(reason) => return Err(invalid(format!("tools[{i}].type"), reason)),
        },
    };
    let strict = matches!(field(tool, "strict"), Some(Json::Bool(true))).then_some(true);
    let function = FunctionTool { name: names.to_upstream(name()?), description, parameters, strict };
    Ok(Converted::Function(Tool { kind: "function", function }))
}

/// A web search tool as `web_search_options`, where the provider maps it. Domain filters cannot be honoured
/// by Chat Completions' search and are refused rather than ignored; `max_uses` has no counterpart (dropped).
fn web_search<'a>(tool: &'a Json<'a>, i: usize, opts: &ConvertOptions) -> Result<WebSearchOptions<'a>, ConvertError> {
    if opts.web_search == WebSearch::Refuse {
        return Err(invalid(
            format!("tools[{i}].type"),
            "web search is a server tool this OpenAI-format provider does not run; remove the tool, route the \
             request to an Anthropic-format provider, or set the provider's web_search option to \
             web_search_options if it supports OpenAI's web search",
        ));
    }
    for key in ["allowed_domains", "blocked_domains"] {
        if member(tool, key).is_some_and(|v| !v.is_null()) {
            return Err(invalid(
                format!("tools[{i}].{key}"),
                "domain filters cannot be applied by this provider's web search",
            ));
        }
    }
    let user_location = match member(tool, "user_location").filter(|v| !v.is_null()) {
        None => None,
        Some(location) if location.is_object() => {
            let text = |key: &str| member(location, key).and_then(Json::as_str);
            let approximate = Approximate {
                city: text("city"),
                region: text("region"),
                country: text("country"),
                timezone: text("timezone"),
            };
            Some(UserLocation { kind: "approximate", approximate })
        }
        Some(_) => return Err(invalid(format!("tools[{i}].user_location"), "must be an object")),
    };
    Ok(WebSearchOptions { user_location })
}

/// `tool_choice`, `parallel_tool_calls: false` when the client disabled parallel tool use, and the tool name
/// a `tool` choice names.
fn tool_choice<'a>(
    choice: &'a Json<'a>,
    names: &ToolNames,
) -> Result<(ToolChoice<'a>, Option<bool>, Option<&'a str>), ConvertError> {
    let kind =
        member(choice, "type").and_then(Json::as_str).ok_or_else(|| invalid("tool_choice.type", "must be a string"))?;
    let mut named = None;
    let openai = match kind {
        "auto" => ToolChoice::Mode("auto"),
        "any" => ToolChoice::Mode("required"),
        "none" => ToolChoice::Mode("none"),
        "tool" => {
            let name = member(choice, "name")
                .and_then(Json::as_str)
                .ok_or_else(|| invalid("tool_choice.name", "must be a string"))?;
            named = Some(name);
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
    Ok((openai, parallel, named))
}
