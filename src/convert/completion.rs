//! A non-streaming OpenAI chat completion as the converter and the hooks read it: only the members they use,
//! typed leniently ([`super::lax`]) and borrowed from the upstream's body, so reading an answer builds no
//! `serde_json::Value` tree. Members this gateway does not understand are skipped unread.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::errors::{classify_error_json, ConvertError};
use super::lax::{First, Items, Lax};
use super::usage::OpenAiUsage;
use crate::lax_object;

/// The members of a chat completion the gateway reads.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct Completion<'a> {
    #[serde(borrow)]
    pub id: Lax<Cow<'a, str>>,
    /// Only the first choice is converted (Anthropic has no `n`).
    #[serde(borrow)]
    pub choices: Lax<First<Choice<'a>>>,
    pub usage: Lax<OpenAiUsage>,
    /// Some providers answer 200 with an error object.
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// `choices[0]`.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct Choice<'a> {
    #[serde(borrow)]
    pub message: Lax<Message<'a>>,
    #[serde(borrow)]
    pub finish_reason: Lax<Cow<'a, str>>,
}

/// `choices[0].message`.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct Message<'a> {
    #[serde(borrow)]
    pub content: Lax<Content<'a>>,
    #[serde(borrow)]
    pub refusal: Lax<Cow<'a, str>>,
    /// DeepSeek, vLLM, SGLang.
    #[serde(borrow)]
    pub reasoning_content: Lax<Cow<'a, str>>,
    /// OpenRouter-style.
    #[serde(borrow)]
    pub reasoning: Lax<Cow<'a, str>>,
    #[serde(borrow)]
    pub tool_calls: Lax<Items<ToolCall<'a>>>,
    /// Opaque reasoning state (OpenRouter-style), for the thought-signature hook.
    #[serde(borrow)]
    pub reasoning_details: Option<&'a RawValue>,
}

/// `content`: a string, or an array of parts whose `text` members are joined.
#[derive(Debug)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Cow<'a, str>>),
}

/// One content part; only its text is read.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Part<'a> {
    #[serde(borrow)]
    text: Lax<Cow<'a, str>>,
}

/// One entry of `tool_calls`.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct ToolCall<'a> {
    #[serde(borrow)]
    pub id: Lax<Cow<'a, str>>,
    #[serde(borrow)]
    pub function: Lax<Function<'a>>,
    /// Gemini's thought signature lives here, for the thought-signature hook.
    #[serde(borrow)]
    pub extra_content: Option<&'a RawValue>,
}

/// `tool_calls[].function`.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct Function<'a> {
    #[serde(borrow)]
    pub name: Lax<Cow<'a, str>>,
    /// JSON text in a string, as OpenAI sends it; some providers send an object.
    #[serde(borrow)]
    pub arguments: Option<&'a RawValue>,
}

lax_object!(Completion<'a>, Choice<'a>, Message<'a>, Part<'a>, ToolCall<'a>, Function<'a>);

impl<'de: 'a, 'a> super::lax::Pick<'de> for Content<'a> {
    fn string(s: Cow<'de, str>) -> Option<Self> {
        Some(Content::Text(s))
    }

    fn array<A: serde::de::SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        let parts = Items::<Part>::array(seq)?.map_or_else(Vec::new, |items| items.0);
        Ok(Some(Content::Parts(parts.into_iter().filter_map(|p| p.text.0).collect())))
    }
}

impl<'a> Completion<'a> {
    /// Reads an upstream body. Not JSON, not an object, or an `error` object in it (some providers answer 200
    /// with one, whose type and message are kept) are [`ConvertError`]s.
    pub fn parse(body: &'a [u8]) -> Result<Self, ConvertError> {
        let completion = serde_json::from_slice::<Lax<Completion>>(body)
            .map_err(|e| ConvertError::invalid_upstream("body", format!("response is not JSON: {e}")))?
            .0
            .ok_or_else(|| ConvertError::invalid_upstream("body", "upstream response is not a JSON object"))?;
        if completion.error.is_some() {
            // Rare: the whole body as a tree, for the error's type and message wherever the provider put them.
            let tree = serde_json::from_slice(body).unwrap_or_default();
            let (error_type, message) = classify_error_json(200, &tree);
            return Err(ConvertError::upstream_error(error_type, message));
        }
        Ok(completion)
    }

    /// `choices[0].message`, the part that is converted.
    pub fn message(&self) -> Option<&Message<'a>> {
        self.choices.get()?.0.as_ref()?.message.get()
    }
}

impl Message<'_> {
    /// The reasoning text: `reasoning_content` or `reasoning`; empty counts as absent.
    pub fn reasoning_text(&self) -> Option<&str> {
        [&self.reasoning_content, &self.reasoning].into_iter().filter_map(Lax::as_str).find(|s| !s.is_empty())
    }

    /// The text of `content` (parts joined).
    pub fn text(&self) -> Cow<'_, str> {
        match self.content.get() {
            Some(Content::Text(text)) => Cow::Borrowed(text.as_ref()),
            Some(Content::Parts(parts)) if parts.len() == 1 => Cow::Borrowed(parts[0].as_ref()),
            Some(Content::Parts(parts)) => Cow::Owned(parts.concat()),
            None => Cow::Borrowed(""),
        }
    }

    /// OpenAI's `refusal`: the model declined, and this says why; empty counts as absent.
    pub fn refusal(&self) -> Option<&str> {
        self.refusal.as_str().filter(|r| !r.is_empty())
    }

    /// The tool calls, in order (entries that are not objects are skipped).
    pub fn tool_calls(&self) -> &[ToolCall<'_>] {
        self.tool_calls.get().map_or(&[], |items| &items.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_members_it_converts_and_skips_the_rest() {
        let body = br#"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",
            "content":"hi","reasoning":"hmm","tool_calls":[1,{"id":"t","function":{"name":"f","arguments":"{}"},
            "extra_content":{"google":{}}}]},"finish_reason":"stop"},{"message":{"content":"second"}}],
            "usage":{"prompt_tokens":3},"system_fingerprint":null}"#;
        let c = Completion::parse(body).unwrap();
        let m = c.message().unwrap();
        assert_eq!((c.id.as_str(), m.text().as_ref(), m.reasoning_text()), (Some("c1"), "hi", Some("hmm")));
        assert_eq!(m.tool_calls().len(), 1);
        assert_eq!(m.tool_calls()[0].extra_content.unwrap().get(), r#"{"google":{}}"#);
        assert_eq!(c.choices.get().unwrap().0.as_ref().unwrap().finish_reason.as_str(), Some("stop"));
    }

    #[test]
    fn content_parts_and_refusals() {
        let c = Completion::parse(br#"{"choices":[{"message":{"content":[{"text":"a"},2,{"text":"b"}]}}]}"#).unwrap();
        assert_eq!(c.message().unwrap().text(), "ab");
        let c = Completion::parse(br#"{"choices":[{"message":{"content":null,"refusal":"no"}}]}"#).unwrap();
        assert_eq!((c.message().unwrap().text().as_ref(), c.message().unwrap().refusal()), ("", Some("no")));
        let c = Completion::parse(br#"{"choices":[{"message":{"content":"x","refusal":""}}]}"#).unwrap();
        assert_eq!(c.message().unwrap().refusal(), None);
    }

    #[test]
    fn not_json_not_an_object_and_error_bodies_are_errors() {
        assert!(Completion::parse(b"<html>").unwrap_err().message().starts_with("response is not JSON"));
        assert_eq!(Completion::parse(b"[1]").unwrap_err().path(), "body");
        let e = Completion::parse(br#"{"error":{"message":"quota","code":429}}"#).unwrap_err();
        assert_eq!((e.error_type(), e.message()), ("rate_limit_error", "quota"));
        assert!(Completion::parse(br#"{"error":null,"choices":[]}"#).is_ok());
    }
}
