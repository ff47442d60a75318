//! Helpers the broker-core integration tests share: build and send messages, receive with a
//! deadline, take and acknowledge.
#![allow(dead_code)] // each test file uses its own subset

use std::sync::Arc;
use std::time::Duration;

use broker_core::{Connection, ConsumerId, ConsumerSpec, Delivery, Destination, Message};
use bytes::Bytes;
use jms_model::Selector;

pub fn msg(
    conn: &mut Connection,
    dest: &Destination,
    body: &str,
    props: &[(&str, &str)],
) -> Message {
    Message {
        properties: props
            .iter()
            .map(|(k, v)| {
                (
                    Bytes::copy_from_slice(k.as_bytes()),
                    Bytes::copy_from_slice(v.as_bytes()),
                )
            })
            .collect(),
        body: Bytes::copy_from_slice(body.as_bytes()),
        ..Message::new(conn.new_message_id(), dest.clone(), conn.id())
    }
}

pub async fn put(conn: &mut Connection, dest: &Destination, body: &str, props: &[(&str, &str)]) {
    let m = msg(conn, dest, body, props);
    conn.send(m, None, true).await.unwrap();
}

pub fn selecting(dest: &Destination, prefetch: u32, selector: &str) -> ConsumerSpec {
    ConsumerSpec {
        selector: Some(Arc::new(Selector::parse(selector).unwrap())),
        ..ConsumerSpec::new(dest.clone(), prefetch)
    }
}

pub async fn recv(conn: &mut Connection) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), conn.recv())
        .await
        .expect("a delivery within 5 s")
        .expect("channel open")
}

pub async fn nothing(conn: &mut Connection) {
    if let Ok(d) = tokio::time::timeout(Duration::from_millis(100), conn.recv()).await {
        panic!("unexpected delivery {:?}", d.map(|d| body(&d).to_owned()));
    }
}

pub fn body(d: &Delivery) -> &str {
    std::str::from_utf8(&d.message.body).unwrap()
}

pub async fn take(conn: &mut Connection, id: ConsumerId, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let d = recv(conn).await;
        out.push(body(&d).to_owned());
        conn.ack(id, d.tag, false, None, false).await.unwrap();
    }
    out
}
