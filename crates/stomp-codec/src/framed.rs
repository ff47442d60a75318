//! `tokio_util::codec` integration (feature `codec`). Pulls in `tokio-util` only, never tokio.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::StompCodec;
use crate::error::CodecError;
use crate::frame::{Frame, Item};

impl Decoder for StompCodec {
    type Item = Item;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Item>, CodecError> {
        Self::decode(self, src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Item>, CodecError> {
        Self::decode_eof(self, src)
    }
}

impl Encoder<&Frame> for StompCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        Self::encode(self, frame, dst);
        Ok(())
    }
}

impl Encoder<Frame> for StompCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        Self::encode(self, &frame, dst);
        Ok(())
    }
}

/// Writes a frame, or a heart-beat EOL for [`Item::HeartBeat`].
impl Encoder<Item> for StompCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Item, dst: &mut BytesMut) -> Result<(), CodecError> {
        match item {
            Item::Frame(frame) => Self::encode(self, &frame, dst),
            Item::HeartBeat => Self::encode_heartbeat(dst),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::limits::Limits;

    #[test]
    fn trait_impls_delegate_to_the_sans_io_api() {
        let mut codec = StompCodec::new(Limits::default());
        let mut buf = BytesMut::new();
        let frame = Frame::new(Command::Send).header("destination", "/q");
        Encoder::<&Frame>::encode(&mut codec, &frame, &mut buf).unwrap();
        Encoder::<Item>::encode(&mut codec, Item::HeartBeat, &mut buf).unwrap();
        Encoder::<Frame>::encode(&mut codec, frame.clone(), &mut buf).unwrap();
        assert_eq!(
            &buf[..],
            b"SEND\ndestination:/q\n\n\0\nSEND\ndestination:/q\n\n\0"
        );

        let mut items = Vec::new();
        while let Some(item) = Decoder::decode(&mut codec, &mut buf).unwrap() {
            items.push(item);
        }
        assert_eq!(
            items,
            vec![
                Item::Frame(frame.clone()),
                Item::HeartBeat,
                Item::Frame(frame)
            ]
        );
        let mut partial = BytesMut::from(&b"SEND\n"[..]);
        assert!(matches!(
            Decoder::decode_eof(&mut codec, &mut partial),
            Err(CodecError::UnexpectedEof { buffered: 5 })
        ));
        let io: CodecError = std::io::Error::other("boom").into();
        assert_eq!(io.to_string(), "i/o error: boom");
    }
}
