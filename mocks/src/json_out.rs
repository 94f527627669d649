//! JSON written straight into a response buffer, for the views a load test reads most
//! (a detail is some fifty objects of up to fifty optional fields): field names are
//! written as the literal bytes they are, and strings are copied as they stand unless
//! they hold a character JSON escapes. Values quoted from a client's request are copied
//! as they stand in its stored text (`Raw`); anything unusual goes through sonic-rs, so
//! the text is the same as serializing with serde.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

/// A value that writes itself as JSON.
pub trait Json {
    fn write(&self, buf: &mut Vec<u8>);
}

/// A JSON object being written: fields are added in the order the schema lists them.
pub struct Obj<'b> {
    buf: &'b mut Vec<u8>,
    first: bool,
}

impl<'b> Obj<'b> {
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        buf.push(b'{');
        Obj { buf, first: true }
    }

    /// Writes `"name":` and hands back the buffer for the value. `name` is a schema's
    /// field name, which needs no escaping.
    pub fn key(&mut self, name: &str) -> &mut Vec<u8> {
        debug_assert!(!needs_escape(name), "field name {name:?}");
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.buf
    }

    pub fn field<T: Json + ?Sized>(&mut self, name: &str, value: &T) {
        value.write(self.key(name));
    }

    /// Leaves the field out when `value` is `None`.
    pub fn optional<T: Json>(&mut self, name: &str, value: Option<T>) {
        if let Some(v) = value {
            self.field(name, &v);
        }
    }

    pub fn close(self) {
        self.buf.push(b'}');
    }
}

/// Writes `items` as a JSON array, each by `write`.
pub fn array<T>(
    buf: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    buf.push(b'[');
    for (k, item) in items.into_iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        write(buf, item);
    }
    buf.push(b']');
}

/// Whether `s` has a character that is not printable ASCII, or a quote or backslash:
/// those take the serializer's escaping; the rest is copied.
fn needs_escape(s: &str) -> bool {
    // Eight bytes at a time: a detail's strings are some eight kilobytes, and a byte
    // by byte test was two fifths of its rendering.
    let mut chunks = s.as_bytes().chunks_exact(8);
    if chunks
        .by_ref()
        .any(|chunk| escapes(u64::from_le_bytes(chunk.try_into().expect("eight bytes"))))
    {
        return true;
    }
    let rest = chunks.remainder();
    // The tail, padded with a letter to a whole chunk: most strings are short.
    let mut padded = [b'a'; 8];
    padded[..rest.len()].copy_from_slice(rest);
    !rest.is_empty() && escapes(u64::from_le_bytes(padded))
}

/// Whether any of the eight bytes in `x` is not printable ASCII, or is a quote or a
/// backslash.
fn escapes(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    // Non-ASCII; then, all bytes being ASCII, one below 0x20, a quote, a backslash, DEL.
    x & HIGH != 0
        || x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0
        || has_zero(x ^ (ONES * u64::from(b'"')))
        || has_zero(x ^ (ONES * u64::from(b'\\')))
        || has_zero(x ^ (ONES * 0x7f))
}

/// Writes any serde value as sonic-rs writes it.
pub fn serialized<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    sonic_rs::to_writer(buf, value).expect("a view's value serializes");
}

impl Json for str {
    fn write(&self, buf: &mut Vec<u8>) {
        if needs_escape(self) {
            serialized(buf, self);
        } else {
            buf.push(b'"');
            buf.extend_from_slice(self.as_bytes());
            buf.push(b'"');
        }
    }
}

/// A string written as its parts one after another, without building it first.
pub struct Joined<'a, const N: usize>(pub [&'a str; N]);

impl<const N: usize> Json for Joined<'_, N> {
    fn write(&self, buf: &mut Vec<u8>) {
        write_parts(buf, self.0.iter().copied());
    }
}

/// Writes the string that `parts` make one after another, without building it first
/// unless one of them needs escaping (then what was written of it is taken back).
#[inline]
pub fn write_parts<'a>(buf: &mut Vec<u8>, parts: impl Iterator<Item = &'a str> + Clone) {
    let start = buf.len();
    buf.push(b'"');
    for part in parts.clone() {
        if needs_escape(part) {
            buf.truncate(start);
            return parts.collect::<String>().write(buf);
        }
        buf.extend_from_slice(part.as_bytes());
    }
    buf.push(b'"');
}

impl Json for String {
    fn write(&self, buf: &mut Vec<u8>) {
        self.as_str().write(buf);
    }
}

impl Json for Cow<'_, str> {
    fn write(&self, buf: &mut Vec<u8>) {
        self.as_ref().write(buf);
    }
}

impl Json for bool {
    fn write(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl Json for $t {
            fn write(&self, buf: &mut Vec<u8>) {
                buf.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
            }
        }
    )*};
}
integers!(u8, u32, i64, usize);

/// A value as it stands in a stored text (serde_json's compact writing, as every view
/// echoes the request), or `null` when absent: copied, not parsed and written again.
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw<'a>(pub Option<&'a str>);

impl<'a> Raw<'a> {
    pub fn is_object(&self) -> bool {
        self.0.is_some_and(|v| v.starts_with('{'))
    }

    /// The fields `T` reads, if it is an object.
    pub fn fields<T: serde::Deserialize<'a>>(&self) -> Option<T> {
        self.0
            .filter(|_| self.is_object())
            .and_then(|v| serde_json::from_str(v).ok())
    }

    /// The string it is, if it is one.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        let raw = self.0?;
        serde_json::from_str::<&'a str>(raw)
            .map(Cow::Borrowed)
            .or_else(|_| serde_json::from_str::<String>(raw).map(Cow::Owned))
            .ok()
    }
}

impl Json for Raw<'_> {
    fn write(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(self.0.unwrap_or("null").as_bytes());
    }
}

impl Json for Value {
    fn write(&self, buf: &mut Vec<u8>) {
        serialized(buf, self);
    }
}

impl<T: Json + ?Sized> Json for &T {
    fn write(&self, buf: &mut Vec<u8>) {
        (**self).write(buf);
    }
}

impl<T: Json> Json for [T] {
    fn write(&self, buf: &mut Vec<u8>) {
        array(buf, self, |buf, item| item.write(buf));
    }
}

impl<T: Json, const N: usize> Json for [T; N] {
    fn write(&self, buf: &mut Vec<u8>) {
        self.as_slice().write(buf);
    }
}

impl<T: Json> Json for Vec<T> {
    fn write(&self, buf: &mut Vec<u8>) {
        self.as_slice().write(buf);
    }
}

/// Implements `Json` for types whose serde form is what the views write (enums named
/// in the schema's case).
macro_rules! json_by_serde {
    ($($t:ty),*) => {$(
        impl $crate::json_out::Json for $t {
            fn write(&self, buf: &mut Vec<u8>) {
                $crate::json_out::serialized(buf, self);
            }
        }
    )*};
}
pub(crate) use json_by_serde;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn written(v: &impl Json) -> String {
        let mut buf = Vec::new();
        v.write(&mut buf);
        String::from_utf8(buf).expect("UTF-8")
    }

    #[test]
    fn strings_read_as_serde_writes_them() {
        for s in [
            "",
            "plain",
            "with \"quotes\"",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "del\u{7f}",
            "àèé €",
            "\u{2028}",
            "\u{1}",
        ] {
            assert_eq!(
                written(&s),
                serde_json::to_string(s).expect("string"),
                "{s:?}"
            );
        }
    }

    #[test]
    fn joined_parts_read_as_their_concatenation_would() {
        for parts in [
            ["mock-pa-", "1"],
            ["", ""],
            ["safestorage://", "PN_LEGAL_FACTS-0002"],
            ["quote \"", "here"],
            ["plain", "line\nbreak"],
            ["àè", "\u{1}"],
        ] {
            assert_eq!(
                written(&Joined(parts)),
                serde_json::to_string(&parts.concat()).expect("string"),
                "{parts:?}"
            );
        }
    }

    #[test]
    fn every_byte_in_every_place_of_a_chunk_is_judged_as_serde_escapes_it() {
        for b in 0u8..0x80 {
            let plain = serde_json::to_string(&(b as char).to_string())
                .expect("string")
                .len()
                == 3
                && b != 0x7f;
            for at in 0..12 {
                let mut s = vec![b'a'; 12];
                s[at] = b;
                let s = String::from_utf8(s).expect("ASCII");
                assert_eq!(needs_escape(&s), !plain, "byte {b:#x} at {at}");
                assert_eq!(
                    written(&s.as_str()),
                    serde_json::to_string(&s).expect("string")
                );
            }
        }
        assert!(needs_escape("aaaaaaaé"));
    }

    #[test]
    fn objects_keep_their_order_and_leave_out_what_is_absent() {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.field("a", &1u32);
        o.optional::<&str>("skipped", None);
        o.optional("b", Some("x"));
        o.field("c", &vec![true, false]);
        o.field("d", &json!({"k": [1, null]}));
        o.field("e", &[-3i64]);
        o.close();
        assert_eq!(
            String::from_utf8(buf).expect("UTF-8"),
            r#"{"a":1,"b":"x","c":[true,false],"d":{"k":[1,null]},"e":[-3]}"#
        );
        let mut empty = Vec::new();
        Obj::new(&mut empty).close();
        assert_eq!(empty, b"{}");
    }
}
