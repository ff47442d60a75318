//! Every `Limits` rejection path and grammar error, checked to fire as soon as the buffered
//! bytes prove it (never after an `Ok(None)` that would wait forever).

use bytes::BytesMut;
use stomp_codec::{CodecError, Item, Limits, StompCodec};

fn small() -> Limits {
    Limits {
        max_frame_size: 256,
        max_header_count: 3,
        max_header_line: 16,
        max_body: 64,
    }
}

/// Feeds `input` one byte at a time; returns the error and how many bytes had been fed.
fn feed_until_error(limits: Limits, input: &[u8]) -> (CodecError, usize) {
    let mut codec = StompCodec::new(limits);
    let mut buf = BytesMut::new();
    for (i, b) in input.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => return (e, i + 1),
            }
        }
    }
    panic!("no error after {} bytes", input.len());
}

#[test]
fn endless_header_line_fails_at_the_limit() {
    let mut input = b"SEND\n".to_vec();
    input.extend(std::iter::repeat_n(b'a', 1000));
    let (err, fed) = feed_until_error(small(), &input);
    // 16 bytes of line plus one byte of slack for a CR that may precede the LF.
    assert_eq!(fed, 5 + 18);
    assert!(matches!(
        err,
        CodecError::HeaderLineTooLong {
            limit: 16,
            offset: 5
        }
    ));
    assert_eq!(err.to_string(), "header line exceeds 16 bytes");
}

#[test]
fn header_line_of_exactly_the_limit_is_accepted() {
    let mut codec = StompCodec::new(small());
    let mut buf = BytesMut::from(&b"SEND\nk:12345678901234\r\n\n\0"[..]);
    assert!(matches!(codec.decode(&mut buf), Ok(Some(Item::Frame(_)))));
    let mut buf = BytesMut::from(&b"SEND\nk:123456789012345\n\n\0"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::HeaderLineTooLong { .. })
    ));
}

#[test]
fn garbage_command_line_fails_fast() {
    let (err, fed) = feed_until_error(small(), b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(fed, 13);
    match &err {
        CodecError::UnknownCommand { command } => assert_eq!(command, "GET /index.h"),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "unknown command \"GET /index.h\"");
    let (err, fed) = feed_until_error(small(), b"send\n");
    assert_eq!(fed, 5);
    assert_eq!(err.to_string(), "unknown command \"send\"");
}

#[test]
fn invalid_utf8_command() {
    let (err, _) = feed_until_error(small(), b"SE\xffND\n");
    assert!(matches!(err, CodecError::InvalidUtf8 { offset: 0 }));
    assert_eq!(err.to_string(), "command line is not valid UTF-8");
}

#[test]
fn too_many_headers_fails_before_the_blank_line() {
    let (err, fed) = feed_until_error(small(), b"SEND\na:1\nb:2\nc:3\nd:4\n");
    assert_eq!(fed, 21);
    assert!(matches!(err, CodecError::TooManyHeaders { limit: 3 }));
    assert_eq!(err.to_string(), "frame has more than 3 headers");
}

#[test]
fn content_length_above_max_body_fails_before_any_body_byte() {
    let mut codec = StompCodec::new(Limits {
        max_header_line: 100,
        ..small()
    });
    let mut buf = BytesMut::from(&b"SEND\ncontent-length:4000000000\n\n"[..]);
    let cap = buf.capacity();
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        CodecError::BodyTooLarge {
            limit: 64,
            size: 4_000_000_000
        }
    ));
    assert_eq!(err.to_string(), "frame body exceeds 64 bytes");
    assert!(
        buf.capacity() <= cap,
        "nothing reserved for the claimed length"
    );
    // Absurd values are invalid, not a reason to overflow.
    let mut buf = BytesMut::from(&b"SEND\ncontent-length:99999999999999999999999\n\n"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::InvalidContentLength)
    ));
}

#[test]
fn body_without_content_length_fails_once_past_max_body() {
    let mut input = b"SEND\n\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 1000));
    let (err, fed) = feed_until_error(small(), &input);
    assert_eq!(fed, 6 + 65);
    assert!(matches!(
        err,
        CodecError::BodyTooLarge {
            limit: 64,
            size: 65
        }
    ));
    // Exactly max_body is fine.
    let mut codec = StompCodec::new(small());
    let mut buf = BytesMut::from(&b"SEND\n\n"[..]);
    buf.extend(std::iter::repeat_n(b'x', 64));
    buf.extend_from_slice(b"\0");
    assert!(matches!(codec.decode(&mut buf), Ok(Some(Item::Frame(_)))));
}

#[test]
fn body_arriving_at_once_past_max_body_is_rejected() {
    let mut codec = StompCodec::new(small());
    let mut buf = BytesMut::from(&b"SEND\n\n"[..]);
    buf.extend(std::iter::repeat_n(b'x', 65));
    buf.extend_from_slice(b"\0");
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::BodyTooLarge { size: 65, .. })
    ));
}

#[test]
fn frame_past_max_frame_size() {
    let limits = Limits {
        max_frame_size: 40,
        max_header_count: 100,
        max_header_line: 100,
        max_body: 100,
    };
    // Many headers, each within its own limit, add up past the frame limit.
    let (err, fed) = feed_until_error(
        limits,
        b"SEND\naaaa:1\nbbbb:2\ncccc:3\ndddd:4\neeee:5\nffff:6\n",
    );
    assert_eq!(fed, 40);
    assert!(matches!(err, CodecError::FrameTooLarge { limit: 40, .. }));
    assert_eq!(err.to_string(), "frame exceeds 40 bytes");
    // A declared body that fits max_body but not the frame.
    let mut codec = StompCodec::new(limits);
    let mut buf = BytesMut::from(&b"SEND\ncontent-length:30\n\n"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::FrameTooLarge {
            limit: 40,
            size: 55
        })
    ));
    // And a NUL-delimited body that does the same.
    let (err, _) = feed_until_error(limits, b"SEND\nk:v\n\n012345678901234567890123456789\0");
    assert!(matches!(err, CodecError::FrameTooLarge { limit: 40, .. }));
}

#[test]
fn content_length_body_waits_for_n_bytes_without_reparsing() {
    let mut codec = StompCodec::default();
    let mut buf = BytesMut::from(&b"MESSAGE\ndestination:/q\ncontent-length:10\n\n"[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    // The head is consumed once; the buffer is reserved for the body and its NUL.
    assert!(buf.is_empty());
    assert!(buf.capacity() >= 11);
    buf.extend_from_slice(b"01234");
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(b"\0\0\0\0\0\0\n");
    let Some(Item::Frame(f)) = codec.decode(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(&f.body[..], b"01234\0\0\0\0\0");
    assert_eq!(f.headers.destination(), Some("/q"));
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Item::HeartBeat));
}

#[test]
fn missing_nul_after_content_length_body() {
    let mut codec = StompCodec::default();
    let mut buf = BytesMut::from(&b"SEND\ncontent-length:2\n\nabX"[..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(
        matches!(err, CodecError::MissingNul { offset: 25 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "frame body not terminated by NUL after content-length bytes"
    );
}

#[test]
fn grammar_errors() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"SEND\ncontent-length:abc\n\n\0",
            "invalid content-length header",
        ),
        (
            b"SEND\ncontent-length:-1\n\n\0",
            "invalid content-length header",
        ),
        (b"SEND\nnocolon\n\n\0", "header line without a colon"),
        (b"SEND\n:value\n\n\0", "header line with an empty name"),
        (b"SEND\nk:\\x\n\n\0", "invalid escape sequence in header"),
    ];
    for (input, msg) in cases {
        let mut codec = StompCodec::default();
        let mut buf = BytesMut::from(*input);
        let err = codec.decode(&mut buf).unwrap_err();
        assert_eq!(err.to_string(), *msg, "{input:?}");
    }
    let mut codec = StompCodec::default();
    let mut buf = BytesMut::from(&b"SEND\na:1\nnocolon\n"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::MalformedHeader { offset: 9 })
    ));
}

#[test]
fn eof_mid_frame() {
    let mut codec = StompCodec::default();
    let mut buf = BytesMut::from(&b"SEND\ndestination:/q\n\nbo"[..]);
    let err = codec.decode_eof(&mut buf).unwrap_err();
    assert!(
        matches!(err, CodecError::UnexpectedEof { buffered: 23 }),
        "{err:?}"
    );
    let mut buf = BytesMut::from(&b"\n"[..]);
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), Some(Item::HeartBeat));
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    let mut buf = BytesMut::from(&b"\r"[..]);
    assert!(codec.decode_eof(&mut buf).is_err());
}

#[test]
fn default_limits() {
    let l = Limits::default();
    assert_eq!(l.max_body, 10 * 1024 * 1024);
    assert_eq!(l.max_frame_size, 10 * 1024 * 1024 + 64 * 1024);
    assert_eq!(l.max_header_count, 1000);
    assert_eq!(l.max_header_line, 64 * 1024);
    let e = CodecError::HeaderLineTooLong {
        limit: l.max_header_line,
        offset: 0,
    };
    assert_eq!(e.to_string(), "header line exceeds 65536 bytes");
}
