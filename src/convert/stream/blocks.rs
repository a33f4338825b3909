//! The content-block half of the stream state machine: turns text, thinking
//! and tool-call fragments into Anthropic block events with one block open at
//! a time and indices contiguous from 0.
//!
//! Real providers send tool calls one after another, and then every fragment
//! is written as soon as it arrives. A provider that interleaves calls (or puts
//! text in the middle of a call's arguments) would force closing a tool block
//! whose JSON is unfinished. So while the open tool block's arguments are
//! unfinished, fragments that belong elsewhere are *deferred* (kept in order)
//! and replayed as soon as the arguments complete, or at the finish; nothing
//! is lost. Fragments for a tool block that has already been closed (its
//! arguments were complete, or the finish came first), and arguments for a
//! call that was never named, are dropped: a block cannot be reopened. A tool
//! block closed early gets its JSON completed (see `tool_input`).

use std::collections::VecDeque;

use bytes::BytesMut;

use super::events::{BlockStart, Delta, EmptyObject, Event};
use super::tool_input::ToolInput;
use crate::convert::ids;
use crate::convert::tool_names::ToolNames;

/// Bounds on deferred fragments; past them the unfinished tool block is
/// closed as it is, so a broken upstream cannot make the converter buffer
/// without limit (or spend quadratic time replaying).
const MAX_DEFERRED_BYTES: usize = 4 * 1024 * 1024;
const MAX_DEFERRED_FRAGMENTS: usize = 4096;

/// One piece of assistant output, as read from an OpenAI delta.
#[derive(Debug)]
pub(super) enum Fragment {
    Text(String),
    Thinking(String),
    Tool(ToolFragment),
}

/// One entry of a delta's `tool_calls`.
#[derive(Debug)]
pub(super) struct ToolFragment {
    /// OpenAI's `index` (position in the array when absent).
    pub index: u64,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: String,
}

impl Fragment {
    fn byte_len(&self) -> usize {
        match self {
            Fragment::Text(s) | Fragment::Thinking(s) => s.len(),
            Fragment::Tool(t) => {
                t.arguments.len() + t.id.as_ref().map_or(0, String::len) + t.name.as_ref().map_or(0, String::len)
            }
        }
    }
}

/// What the writer needs from the stream to name things.
pub(super) struct Context<'a> {
    pub message_id: &'a str,
    pub names: &'a ToolNames,
}

/// A tool call that got a block.
#[derive(Debug)]
struct ToolSlot {
    openai_index: u64,
    id: String,
}

#[derive(Debug)]
enum OpenBlock {
    Text,
    Thinking,
    Tool { slot: usize, input: ToolInput },
}

/// Writes content-block events for fragments as they arrive.
#[derive(Debug, Default)]
pub(super) struct BlockWriter {
    /// Index of the open block, or of the next one when none is open.
    index: usize,
    open: Option<OpenBlock>,
    slots: Vec<ToolSlot>,
    deferred: VecDeque<Fragment>,
    deferred_bytes: usize,
}

impl BlockWriter {
    /// Whether any tool_use block was written (decides `tool_use` as stop reason).
    pub(super) fn has_tool_use(&self) -> bool {
        !self.slots.is_empty()
    }

    pub(super) fn push(&mut self, fragment: Fragment, ctx: &Context<'_>, out: &mut BytesMut) {
        if self.must_defer(&fragment) {
            self.deferred_bytes += fragment.byte_len();
            self.deferred.push_back(fragment);
            if self.deferred_bytes > MAX_DEFERRED_BYTES || self.deferred.len() > MAX_DEFERRED_FRAGMENTS {
                self.flush_deferred(ctx, out);
            }
            return;
        }
        self.emit(fragment, ctx, out);
        self.drain_deferred(ctx, out);
    }

    /// The upstream finished its output: write everything deferred and close
    /// the open block, whatever state its arguments are in.
    pub(super) fn close_all(&mut self, ctx: &Context<'_>, out: &mut BytesMut) {
        self.flush_deferred(ctx, out);
        self.close_open(out);
    }

    fn must_defer(&self, fragment: &Fragment) -> bool {
        match (&self.open, fragment) {
            (Some(OpenBlock::Tool { input, .. }), _) if input.is_complete() => false,
            (Some(OpenBlock::Tool { slot, .. }), Fragment::Tool(t)) => self.target_slot(t) != Some(*slot),
            (Some(OpenBlock::Tool { .. }), _) => true,
            _ => false,
        }
    }

    /// The slot a tool fragment continues, if any: the latest call with its
    /// index. A fragment carrying a name starts a new call instead when its id
    /// differs, or, without an id, when that call's block is already closed
    /// (providers that reuse one index for every call).
    fn target_slot(&self, t: &ToolFragment) -> Option<usize> {
        let slot = self.slots.iter().rposition(|s| s.openai_index == t.index)?;
        match (&t.name, &t.id) {
            (None, _) => Some(slot),
            (Some(_), Some(id)) => (*id == self.slots[slot].id).then_some(slot),
            (Some(_), None) => self.is_open_slot(slot).then_some(slot),
        }
    }

    fn is_open_slot(&self, slot: usize) -> bool {
        matches!(self.open, Some(OpenBlock::Tool { slot: open, .. }) if open == slot)
    }

    /// Replays deferred fragments in order while they can be written. When
    /// the front must still wait, a queued continuation of the open tool
    /// block (queued while an earlier block was open) may go first: it
    /// belongs to the block being written and is what the rest waits for.
    fn drain_deferred(&mut self, ctx: &Context<'_>, out: &mut BytesMut) {
        loop {
            let next = match self.deferred.front() {
                None => return,
                Some(front) if !self.must_defer(front) => 0,
                Some(_) => match self.deferred.iter().position(|f| self.continues_open_tool(f)) {
                    Some(position) => position,
                    None => return,
                },
            };
            if let Some(fragment) = self.deferred.remove(next) {
                self.deferred_bytes -= fragment.byte_len();
                self.emit(fragment, ctx, out);
            }
        }
    }

    fn continues_open_tool(&self, fragment: &Fragment) -> bool {
        match (&self.open, fragment) {
            (Some(OpenBlock::Tool { slot, .. }), Fragment::Tool(t)) => self.target_slot(t) == Some(*slot),
            _ => false,
        }
    }

    fn flush_deferred(&mut self, ctx: &Context<'_>, out: &mut BytesMut) {
        loop {
            self.drain_deferred(ctx, out);
            if self.deferred.is_empty() {
                return;
            }
            // Only an unfinished tool block holds fragments back: give up on it.
            if let Some(OpenBlock::Tool { input, .. }) = &mut self.open {
                input.force_complete();
            }
        }
    }

    fn emit(&mut self, fragment: Fragment, ctx: &Context<'_>, out: &mut BytesMut) {
        match fragment {
            Fragment::Text(text) => {
                if !matches!(self.open, Some(OpenBlock::Text)) {
                    self.open_block(OpenBlock::Text, BlockStart::Text { text: "" }, out);
                }
                self.delta(Delta::Text { text: &text }, out);
            }
            Fragment::Thinking(thinking) => {
                if !matches!(self.open, Some(OpenBlock::Thinking)) {
                    let start = BlockStart::Thinking { thinking: "", signature: "" };
                    self.open_block(OpenBlock::Thinking, start, out);
                }
                self.delta(Delta::Thinking { thinking: &thinking }, out);
            }
            Fragment::Tool(tool) => self.emit_tool(tool, ctx, out),
        }
    }

    fn emit_tool(&mut self, tool: ToolFragment, ctx: &Context<'_>, out: &mut BytesMut) {
        match self.target_slot(&tool) {
            Some(slot) => {
                if self.is_open_slot(slot) {
                    self.tool_arguments(&tool.arguments, out);
                }
            }
            None => {
                if let Some(name) = &tool.name {
                    self.open_tool_block(&tool, name, ctx, out);
                    self.tool_arguments(&tool.arguments, out);
                }
            }
        }
    }

    fn open_tool_block(&mut self, tool: &ToolFragment, name: &str, ctx: &Context<'_>, out: &mut BytesMut) {
        self.close_open(out);
        let id = match &tool.id {
            Some(id) => id.clone(),
            None => ids::tool_use_id(ctx.message_id, self.index),
        };
        let start = BlockStart::ToolUse { id: &id, name: ctx.names.restore(name), input: EmptyObject {} };
        Event::ContentBlockStart { index: self.index, content_block: start }.write(out);
        self.slots.push(ToolSlot { openai_index: tool.index, id });
        self.open = Some(OpenBlock::Tool { slot: self.slots.len() - 1, input: ToolInput::default() });
    }

    fn tool_arguments(&mut self, fragment: &str, out: &mut BytesMut) {
        let Some(OpenBlock::Tool { input, .. }) = &mut self.open else {
            return;
        };
        let forwarded = input.push(fragment);
        if !forwarded.is_empty() {
            self.delta(Delta::InputJson { partial_json: &forwarded }, out);
        }
    }

    fn open_block(&mut self, block: OpenBlock, start: BlockStart<'_>, out: &mut BytesMut) {
        self.close_open(out);
        Event::ContentBlockStart { index: self.index, content_block: start }.write(out);
        self.open = Some(block);
    }

    fn delta(&self, delta: Delta<'_>, out: &mut BytesMut) {
        Event::ContentBlockDelta { index: self.index, delta }.write(out);
    }

    fn close_open(&mut self, out: &mut BytesMut) {
        match self.open.take() {
            None => return,
            Some(OpenBlock::Text) => {}
            // Anthropic ends every thinking block with its signature; an OpenAI
            // provider has none, and an empty one is what the SDKs accept.
            Some(OpenBlock::Thinking) => self.delta(Delta::Signature { signature: "" }, out),
            // Whatever was cut short is completed into a parsable object.
            Some(OpenBlock::Tool { mut input, .. }) => {
                let suffix = input.finish();
                if !suffix.is_empty() {
                    self.delta(Delta::InputJson { partial_json: &suffix }, out);
                }
            }
        }
        Event::ContentBlockStop { index: self.index }.write(out);
        self.index += 1;
    }
}
