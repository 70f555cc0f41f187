//! Rate-limited sign-in attempts and bad input getting a clear 4xx.
use super::*;

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let server = TestServer::builder()
        .toml("[rate_limit]\nper_account_per_minute = 3\nper_ip_per_minute = 6")
        .start()
        .await;
    server.signup("Ann", "ann@example.com", PW).await; // sign-up counts: attempt 1 for IP and account
    for _ in 0..2 {
        assert_eq!(
            server.signin("ann@example.com", "wrong password").await.0,
            401
        );
    }
    let res = client()
        .post(server.at("/api/v1/auths/signin"))
        .json(&json!({"email": "ann@example.com", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "the account is locked for now, even with the right password"
    );
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Rate limit exceeded"
    );
    // another account from the same IP still works, until the IP's limit
    // (attempts from this IP so far: sign-up, 2 wrong, 1 refused = 4)
    assert_eq!(server.signin("other@example.com", "x").await.0, 401);
    assert_eq!(server.signin("third@example.com", "x").await.0, 401);
    assert_eq!(
        server.signin("fourth@example.com", "x").await.0,
        429,
        "per-IP limit: 6 a minute"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let server = TestServer::start().await;
    let post_raw = |body: Vec<u8>, ctype: &'static str| {
        let url = server.at("/api/v1/auths/signin");
        async move {
            let res = client()
                .post(url)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = post_raw(b"{\"email\": ".to_vec(), "application/json").await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Malformed JSON"),
        "{body}"
    );

    let (status, body) = post_raw(b"{\"email\": \"a@b.co\"}".to_vec(), "application/json").await;
    assert_eq!(status, 422);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("missing field `password`"),
        "{body}"
    );

    let (status, body) = post_raw(
        b"{\"email\": 5, \"password\": []}".to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = post_raw(
        b"{\"email\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].is_string());

    let mut big = b"{\"email\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    big.extend(b"\", \"password\": \"x\"}");
    let (status, body) = post_raw(big.clone(), "application/json").await;
    assert_eq!(status, 413);
    assert!(
        body["detail"].as_str().unwrap().contains("too large"),
        "{body}"
    );
    // the same body without a length (chunked): the limit holds as well
    let answer = chunked_post(&server.url, "/api/v1/auths/signin", &big).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("too large"), "{answer}");

    let (status, body) = post_raw(b"email=a".to_vec(), "application/x-www-form-urlencoded").await;
    assert_eq!(status, 415);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{body}"
    );

    // sign-up input rules
    for (name, email, pw, why) in [
        ("", "a@b.co", PW, "empty name"),
        ("A", "not-an-email", PW, "bad e-mail"),
        ("A", "a@b.co", "short", "short password"),
    ] {
        let (status, body) = server
            .post(
                "/api/v1/auths/signup",
                None,
                &json!({"name": name, "email": email, "password": pw}),
            )
            .await;
        assert_eq!(status, 400, "{why}: {body}");
        assert!(body["detail"].is_string());
    }
    // the server is fine afterwards
    assert_eq!(server.get("/healthz", None).await.0, 200);
    let (status, ready) = server.get("/readyz", None).await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));
    assert_detail(server.get("/api/v1/nothing", None).await, 404, "Not found");
}

/// POSTs `body` as JSON in 16 KiB chunks (`Transfer-Encoding: chunked`, no
/// length) over a plain connection; returns what the server answered. The
/// answer is read while the body is still being sent: the server may answer
/// and close before it has read the whole body.
async fn chunked_post(base: &str, path: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let (mut rx, mut tx) = tokio::net::TcpStream::connect(host)
        .await
        .unwrap()
        .into_split();
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = rx.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).into_owned()
    });
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut frames = vec![head.into_bytes()];
    for chunk in body.chunks(16 * 1024) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        frames.push(frame);
    }
    frames.push(b"0\r\n\r\n".to_vec());
    for frame in frames {
        if tx.write_all(&frame).await.is_err() {
            break; // the server has answered and closed
        }
    }
    reader.await.unwrap()
}
