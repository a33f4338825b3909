//! Temporary minimal SSE parser (replaced by the full one).
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
}
impl SseParser {
    pub fn new(_max: usize) -> Self {
        Self::default()
    }
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), std::fmt::Error> {
        self.buf.extend_from_slice(chunk);
        while let Some(pos) = memchr::memmem::find(&self.buf, b"\n\n") {
            let raw: Vec<u8> = self.buf.drain(..pos + 2).collect();
            let text = String::from_utf8_lossy(&raw);
            let mut ev = SseEvent { event: None, data: String::new() };
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    ev.event = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            out.push(ev);
        }
        Ok(())
    }
    pub fn finish(&mut self, _out: &mut Vec<SseEvent>) {}
}
