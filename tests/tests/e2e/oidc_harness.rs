//! The OpenID provider harness on its own, without Tessera: a full code flow
//! with PKCE to a dummy redirect URI, the token endpoint, userinfo, PKCE
//! enforcement, wrong passwords, runtime account changes and the faults the
//! refusal tests rely on.
use crate::support::jwt_payload;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use serde_json::Value;
use tessera_tests::keyserver::now;
use tessera_tests::oidc::{Account, ClientSpec, Faults, OidcProvider, ProviderSpec};
use tessera_tests::server::client;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// The ID token's claims after checking its signature against the provider's
/// JWKS, its issuer and its audience (`aud`).
async fn verified_claims(provider: &OidcProvider, id_token: &str, aud: &str) -> Value {
    let jwks: JwkSet = client()
        .get(
            provider.discovery().await["jwks_uri"]
                .as_str()
                .unwrap_or(""),
        )
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let header = decode_header(id_token).expect("header");
    let kid = header.kid.clone().expect("kid");
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let key = DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[provider.issuer()]);
    validation.set_audience(&[aud]);
    validation.validate_exp = false;
    decode::<Value>(id_token, &key, &validation)
        .expect("a valid ID token")
        .claims
}

#[tokio::test]
async fn code_flow_with_pkce_against_the_real_provider() {
    let strict = ClientSpec::new("strict", "strict-secret")
        .redirect_uri(REDIRECT)
        .require_pkce();
    let lax = ClientSpec::new("lax", "lax-secret")
        .redirect_uri(REDIRECT)
        .auth_method("client_secret_post");
    let alice = Account::new("alice", "alice-password")
        .email("alice@example.com", true)
        .name("Alice Liddell")
        .username("alice")
        .picture("http://127.0.0.1:9/alice.png")
        .groups(&["Admins", "users"]);
    let provider = OidcProvider::start(
        ProviderSpec::new()
            .client(strict.clone())
            .client(lax.clone())
            .account(alice.clone()),
    )
    .await;
    let discovery = discovery_offers_s256_and_form_post(&provider).await;
    let tokens = happy_path_by_sub(&provider, &strict).await;
    access_token_works_at_userinfo(&discovery, &tokens).await;
    logins_by_email_pkce_and_refusals(&provider, &strict, &lax).await;

    // accounts change at runtime
    provider
        .put_account(&alice.clone().groups(&["untrusted"]))
        .await;
    let tokens = provider
        .code_flow(&strict, REDIRECT, "alice", "alice-password", true)
        .await
        .expect("after the change");
    let claims = jwt_payload(tokens["id_token"].as_str().unwrap_or(""));
    assert_eq!(claims["groups"], serde_json::json!(["untrusted"]));
}

/// The discovery document names the issuer, S256 and `form_post`.
async fn discovery_offers_s256_and_form_post(provider: &OidcProvider) -> Value {
    let discovery = provider.discovery().await;
    assert_eq!(discovery["issuer"], provider.issuer());
    assert!(
        discovery["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|m| m.iter().any(|v| v == "S256")),
        "{discovery}"
    );
    assert!(
        discovery["response_modes_supported"]
            .as_array()
            .is_some_and(|m| m.iter().any(|v| v == "form_post")),
        "{discovery}"
    );
    discovery
}

/// The happy path: login by sub, consent, code, token endpoint; the tokens.
async fn happy_path_by_sub(provider: &OidcProvider, strict: &ClientSpec) -> Value {
    // the happy path: login by sub, consent, code, token endpoint
    let tokens = provider
        .code_flow(strict, REDIRECT, "alice", "alice-password", true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", provider.log()));
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let claims = verified_claims(provider, id_token, "strict").await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["groups"], serde_json::json!(["Admins", "users"]));
    assert!(claims["nonce"].is_string(), "{claims}");
    assert!(claims["exp"].as_i64().unwrap_or(0) > now());
    tokens
}

/// The access token works at userinfo; garbage does not.
async fn access_token_works_at_userinfo(discovery: &Value, tokens: &Value) {
    // the access token works at userinfo
    let access = tokens["access_token"].as_str().expect("access_token");
    let res = client()
        .get(discovery["userinfo_endpoint"].as_str().unwrap_or(""))
        .bearer_auth(access)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.expect("userinfo json");
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["email"], "alice@example.com");
    let res = client()
        .get(discovery["userinfo_endpoint"].as_str().unwrap_or(""))
        .bearer_auth("garbage")
        .send()
        .await
        .expect("userinfo");
    assert_eq!(res.status(), 401);
}

/// Login by e-mail, PKCE enforcement, a wrong password and an unregistered
/// redirect URI.
async fn logins_by_email_pkce_and_refusals(
    provider: &OidcProvider,
    strict: &ClientSpec,
    lax: &ClientSpec,
) {
    // login by e-mail works too
    provider
        .code_flow(
            strict,
            REDIRECT,
            "alice@example.com",
            "alice-password",
            true,
        )
        .await
        .expect("login by e-mail");

    // PKCE is enforced for the strict client, optional for the lax one
    let refused = provider
        .code_flow(strict, REDIRECT, "alice", "alice-password", false)
        .await
        .expect_err("no PKCE, strict client");
    assert!(
        format!("{refused:#}").contains("invalid_request"),
        "{refused:#}"
    );
    provider
        .code_flow(lax, REDIRECT, "alice", "alice-password", false)
        .await
        .expect("no PKCE, lax client");

    // a wrong password never gets a code
    let refused = provider
        .code_flow(strict, REDIRECT, "alice", "wrong", true)
        .await
        .expect_err("wrong password");
    assert!(
        format!("{refused:#}").contains("refused the login"),
        "{refused:#}"
    );
    // an unregistered redirect URI is refused by the provider itself
    assert!(provider
        .code_flow(
            strict,
            "http://127.0.0.1:9/elsewhere",
            "alice",
            "alice-password",
            true
        )
        .await
        .is_err());
}

#[tokio::test]
async fn faults_make_bad_id_tokens_on_purpose() {
    let alice = Account::new("alice", "pw").email("alice@example.com", true);
    let provider = OidcProvider::start(ProviderSpec::new().account(alice)).await;
    // clients registered while the provider runs
    let aud = ClientSpec::new("aud", "s")
        .redirect_uri(REDIRECT)
        .faults(Faults {
            id_token_audience: Some("someone-else".into()),
            ..Faults::default()
        });
    let nonce = ClientSpec::new("nonce", "s")
        .redirect_uri(REDIRECT)
        .faults(Faults {
            id_token_nonce: Some("stale".into()),
            ..Faults::default()
        });
    let expired = ClientSpec::new("expired", "s")
        .redirect_uri(REDIRECT)
        .faults(Faults {
            id_token_expired_by: Some(600),
            ..Faults::default()
        });
    let azp = ClientSpec::new("azp", "s")
        .redirect_uri(REDIRECT)
        .faults(Faults {
            id_token_azp: Some("another-client".into()),
            ..Faults::default()
        });
    for c in [&aud, &nonce, &expired, &azp] {
        provider.put_client(c).await;
    }
    let id_token = |tokens: Value| tokens["id_token"].as_str().unwrap_or("").to_owned();

    let t = provider
        .code_flow(&aud, REDIRECT, "alice", "pw", true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", provider.log()));
    // still properly signed, just for someone else
    let claims = verified_claims(&provider, &id_token(t), "someone-else").await;
    assert_eq!(claims["aud"], "someone-else");

    let t = provider
        .code_flow(&nonce, REDIRECT, "alice", "pw", true)
        .await
        .expect("nonce client");
    assert_eq!(jwt_payload(&id_token(t))["nonce"], "stale");

    let t = provider
        .code_flow(&azp, REDIRECT, "alice", "pw", true)
        .await
        .expect("azp client");
    let claims = verified_claims(&provider, &id_token(t), "azp").await;
    assert_eq!(claims["azp"], "another-client");

    let t = provider
        .code_flow(&expired, REDIRECT, "alice", "pw", true)
        .await
        .expect("expired client");
    let claims = verified_claims(&provider, &id_token(t), "expired").await;
    let exp = claims["exp"].as_i64().unwrap_or(i64::MAX);
    assert!(exp <= now() - 590, "exp {exp} should be 10 minutes ago");
    assert!(claims["iat"].as_i64().unwrap_or(i64::MAX) < exp);
}

#[tokio::test]
async fn claims_only_in_userinfo_when_asked() {
    let c = ClientSpec::new("c", "s").redirect_uri(REDIRECT);
    let provider = OidcProvider::start(
        ProviderSpec::new()
            .claims_only_in_userinfo()
            .client(c.clone())
            .account(Account::new("bob", "pw").email("bob@example.com", true)),
    )
    .await;
    let t = provider
        .code_flow(&c, REDIRECT, "bob", "pw", true)
        .await
        .expect("flow");
    let claims = jwt_payload(t["id_token"].as_str().unwrap_or(""));
    assert_eq!(claims["sub"], "bob");
    assert!(claims.get("email").is_none(), "{claims}");
}
