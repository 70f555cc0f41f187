//! Issuer configuration: the OpenGPTs environment shorthand and bad
//! configs that stop start-up.
use super::*;

#[tokio::test]
async fn opengpts_environment_shorthand() {
    let k = TestKey::generate(KeyType::P256, "k");
    use base64::Engine;
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(&k.public_pem);
    let server = TestServer::builder()
        .env("AUTH_TYPE", "jwt_local")
        .env("JWT_ISS", "https://opengpts.test")
        .env("JWT_AUD", "app, other")
        .env("JWT_ALG", "ES256")
        .env("JWT_DECODE_KEY_B64", &key_b64)
        .start()
        .await;
    let t = k.sign(json!({}), &claims("https://opengpts.test", "olga"));
    let (code, me) = server.get(ME, Some(&t)).await;
    assert_eq!(code, 200, "{}", server.log());
    assert_eq!(me["issuer"], "jwt");
    let idp = KeyServer::start(&[&k]).await;
    let server = TestServer::builder()
        .env("AUTH_TYPE", "jwt_oidc")
        .env("JWT_ISS", &idp.url)
        .env("JWT_AUD", "app")
        .env("JWT_ALG", "ES256")
        .start()
        .await;
    let t = k.sign(json!({}), &claims(&idp.url, "olga"));
    assert_eq!(status(&server, &t).await, 200, "{}", server.log());
}

#[tokio::test]
async fn bad_issuer_config_fails_start_up_with_a_message() {
    for (toml, says) in [
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\n", "set one key source"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\njwks_url = \"https://x/j\"\ndiscovery_url = \"https://x/d\"\n", "exactly one"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\njwks_url = \"https://x/j\"\nalgorithms = [\"none\"]\n", "`none`"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\njwks_url = \"https://x/j\"\nalgorithms = [\"RS256\", \"HS256\"]\n", "mixes HMAC"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\njwks_url = \"https://x/j\"\n", "allow_any_audience"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"tessera\"\naudiences = [\"a\"]\njwks_url = \"https://x/j\"\n", "session issuer"),
        ("[[issuers]]\nname = \"x\"\nissuer = \"https://x\"\naudiences = [\"a\"]\njwks_url = \"http://x.example/j\"\n", "https://"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(&path, format!("[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\n{toml}", dir.path().join("data"))).unwrap();
        let out = tokio::process::Command::new(binary())
            .arg("--config")
            .arg(&path)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{toml}");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(says), "{says} not in: {text}");
    }
}
