//! Test PKI: a CA and a server certificate for 127.0.0.1 (rcgen), and a
//! token issuer that signs ES256 JWTs the way a Docker token server does,
//! with its certificate in the `x5c` header for the registry to check
//! against its `rootcertbundle`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use super::fake::{Answer, Seen};

/// A CA and a server certificate it signed for `127.0.0.1`.
pub struct ServerPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn server_pki() -> ServerPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "berth test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    ServerPki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Issues tokens for one user: full requested access with the right
/// password, nothing without credentials, a 401 with a wrong one.
pub struct TokenIssuer {
    key: EcdsaKeyPair,
    cert_b64: String,
    pub cert_pem: String,
    pub issuer: String,
    pub service: String,
    user: String,
    password: String,
}

impl TokenIssuer {
    pub fn new(user: &str, password: &str) -> TokenIssuer {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "berth test token signer");
        let cert = params.self_signed(&key).unwrap();
        let signing = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &SystemRandom::new(),
        )
        .unwrap();
        TokenIssuer {
            key: signing,
            cert_b64: STANDARD.encode(cert.der()),
            cert_pem: cert.pem(),
            issuer: "berth-test-issuer".into(),
            service: "berth-test-registry".into(),
            user: user.into(),
            password: password.into(),
        }
    }

    /// The token endpoint's answer to `seen`.
    pub fn answer(&self, seen: &Seen) -> Answer {
        let (user, granted) = match seen.header("authorization") {
            None => (String::new(), false),
            Some(auth) if *auth == self.basic() => (self.user.clone(), true),
            Some(_) => {
                return Answer::json(401, r#"{"details":"incorrect username or password"}"#);
            }
        };
        let query = seen.target.split_once('?').map_or("", |(_, q)| q);
        let access: Vec<serde_json::Value> = form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "scope")
            .filter(|_| granted)
            .filter_map(|(_, scope)| {
                let (kind, rest) = scope.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                Some(serde_json::json!({
                    "type": kind,
                    "name": name,
                    "actions": actions.split(',').collect::<Vec<_>>(),
                }))
            })
            .collect();
        let token = self.sign(&user, access);
        Answer::json(
            200,
            &serde_json::json!({"token": token, "expires_in": 300}).to_string(),
        )
    }

    fn basic(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.user, self.password))
        )
    }

    fn sign(&self, subject: &str, access: Vec<serde_json::Value>) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [self.cert_b64]});
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{now}-{}", access.len()),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}
