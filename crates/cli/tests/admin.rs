//! The operator's commands (issue #17) through the real binary: admin
//! tokens, a buyer's lifecycle (show, export, sign out everywhere,
//! erase), disabling a merchant with its sessions ended, the audit trail,
//! and `serve --admin-listen`.

#[allow(dead_code, unused_imports)] // helpers shared with the other CLI tests
mod helpers;

use std::time::Duration;

use helpers::{Output, Server, TestDb, body_of, free_port, http, vector};
use serde_json::Value;

#[track_caller]
fn json_line(output: &Output) -> Value {
    serde_json::from_str(&output.one_line()).expect("one line of JSON")
}

#[test]
fn admin_tokens_are_shown_once_listed_without_secrets_and_revoked() {
    let db = TestDb::new();
    let token = db
        .payfac(&["admin-token", "create", "backoffice"])
        .one_line();
    assert!(token.starts_with("pfadm_"), "{token}");
    assert_eq!(token.len(), "pfadm_".len() + 43);
    db.payfac(&["admin-token", "create", "backoffice"])
        .refused("admin token backoffice already exists");
    db.payfac(&["admin-token", "create", "no spaces"])
        .refused("token name must be");

    let list = db.payfac(&["admin-token", "list"]);
    assert_eq!(list.code, 0, "{list:#?}");
    let fields: Vec<&str> = list.stdout.trim().split('\t').collect();
    assert_eq!(
        fields.len(),
        4,
        "name, created, last used, expires: {list:#?}"
    );
    assert_eq!(fields[3], "-", "never expires");
    assert_eq!(fields[0], "backoffice");
    assert!(fields[1].ends_with('Z'), "{list:#?}");
    assert_eq!(fields[2], "-");
    assert!(!list.stdout.contains(&token[6..]));
    let listed = json_line(&db.payfac(&["admin-token", "list", "--json"]));
    assert_eq!(listed[0]["name"], "backoffice");
    assert_eq!(listed[0]["lastUsedAt"], Value::Null);

    let revoked = db.payfac(&["admin-token", "revoke", "backoffice"]);
    assert_eq!(revoked.code, 0, "{revoked:#?}");
    assert_eq!(
        json_line(&revoked),
        serde_json::json!({"name": "backoffice", "revoked": true})
    );
    db.payfac(&["admin-token", "revoke", "backoffice"])
        .refused("unknown admin token backoffice");

    let audit = db.payfac(&["audit", "--json"]);
    assert!(
        !audit.stdout.contains(&token[6..]),
        "no secret in the audit"
    );
    let audit: Value = serde_json::from_str(audit.stdout.trim()).unwrap();
    let actions: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions[0],
        (
            "admin_token.revoke",
            "refused: unknown admin token backoffice"
        )
    );
    assert_eq!(actions[1], ("admin_token.revoke", "ok"));
    assert_eq!(actions.last().unwrap(), &("admin_token.create", "ok"));
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["actor"] == "cli")
    );
}

/// A signed user-sync of `user` at merchant `M1` (the vector key); its
/// userId and authorization code.
fn sync(db: &TestDb, server: &Server, user: &str) -> (String, String) {
    let output = db.payfac_plain(&[
        "user-sync".as_ref(),
        "--url".as_ref(),
        server.base_url().as_ref(),
        "--merchant".as_ref(),
        "M1".as_ref(),
        "--key".as_ref(),
        vector("merchant-test.key.pem").as_os_str(),
        "--merchant-user-no".as_ref(),
        user.as_ref(),
        "--email".as_ref(),
        "buyer@example.com".as_ref(),
    ]);
    let envelope = json_line(&output);
    assert_eq!(envelope["code"], "0000", "{output:#?}");
    (
        envelope["data"]["userId"].as_str().unwrap().to_owned(),
        envelope["data"]["authorizationCode"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// Signs the code in; the session cookie (`payfac_session=…`).
fn sign_in(server: &Server, code: &str) -> String {
    let (status, response) = http(
        server.port,
        "GET",
        &format!("/?authorizationCode={code}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(status, 303, "{response}");
    let cookie = response
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .expect("a session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

fn signed_in(server: &Server, cookie: &str) -> bool {
    let (status, _) = http(server.port, "GET", "/api/me", &[("Cookie", cookie)], b"").unwrap();
    status == 200
}

#[test]
fn a_buyer_is_shown_exported_signed_out_everywhere_and_erased() {
    let db = TestDb::new();
    db.add_merchant("M1", &vector("merchant-test.pub.pem"));
    let server = Server::start(db.dir.path(), &db.url, &["--insecure-cookies"]);
    let (user_id, code) = sync(&db, &server, "U1");
    let cookie = sign_in(&server, &code);
    assert!(signed_in(&server, &cookie));

    let by_no = ["--merchant", "M1", "--merchant-user-no", "U1"];
    let show = json_line(&db.payfac(&[&["buyer", "show"][..], &by_no].concat()));
    assert_eq!(show["userId"], user_id.as_str());
    assert_eq!(show["email"], "buyer@example.com");
    assert_eq!(show["liveSessions"], 1);
    let same = json_line(&db.payfac(&["buyer", "show", "--user-id", &user_id]));
    assert_eq!(same["merchantUserNo"], "U1");

    let export = db.payfac(&["buyer", "export", "--user-id", &user_id]);
    assert!(!export.stdout.contains(&code[10..]), "no code in an export");
    assert!(!export.stdout.contains(cookie.split('=').nth(1).unwrap()));
    let export = json_line(&export);
    assert_eq!(export["buyer"]["userId"], user_id.as_str());
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export["authorizationCodes"].as_array().unwrap().len(), 1);

    let revoked = json_line(&db.payfac(&[&["buyer", "revoke-sessions"][..], &by_no].concat()));
    assert_eq!(revoked["sessionsEnded"], 1);
    assert!(
        !signed_in(&server, &cookie),
        "signed out at the next request"
    );

    let (_, code) = sync(&db, &server, "U1");
    let cookie = sign_in(&server, &code);
    let erased = json_line(&db.payfac(&["buyer", "erase", "--user-id", &user_id]));
    assert_eq!(erased["userId"], user_id.as_str());
    assert_eq!(erased["sessionsEnded"], 1);
    assert!(!signed_in(&server, &cookie));
    db.payfac(&["buyer", "show", "--user-id", &user_id])
        .refused(&format!("unknown buyer {user_id}"));
    db.payfac(&[&["buyer", "erase"][..], &by_no].concat())
        .refused("unknown buyer M1/U1");
    let (new_id, _) = sync(&db, &server, "U1");
    assert_ne!(new_id, user_id, "a new buyer with a new userId");

    db.payfac(&["buyer", "show", "--user-id", "12x"])
        .refused("userId must be a positive decimal integer");
    db.payfac(&[
        "buyer",
        "show",
        "--merchant",
        "bad id!",
        "--merchant-user-no",
        "U1",
    ])
    .refused("merchant id");
    let usage = db.payfac(&["buyer", "show", "--merchant", "M1"]);
    assert_eq!(usage.code, 2, "{usage:#?}");

    let audit = db.payfac(&["audit"]);
    assert_eq!(audit.code, 0);
    assert!(
        audit.stdout.contains("\tcli\tbuyer.erase\t"),
        "{}",
        audit.stdout
    );
    assert!(
        audit
            .stdout
            .contains("\tcli\tbuyer.sessions.revoke\tM1/U1\tok"),
        "{}",
        audit.stdout
    );
}

#[test]
fn disable_with_end_sessions_contains_a_leaked_key() {
    let db = TestDb::new();
    db.add_merchant("M1", &vector("merchant-test.pub.pem"));
    let server = Server::start(db.dir.path(), &db.url, &["--insecure-cookies"]);
    let (_, code) = sync(&db, &server, "U1");
    let cookie = sign_in(&server, &code);
    let (_, unused) = sync(&db, &server, "U2");

    let ended = json_line(&db.payfac(&["merchant", "disable", "M1", "--end-sessions"]));
    assert_eq!(ended["sessionsEnded"], 1);
    assert_eq!(ended["codesVoided"], 1);
    assert!(!signed_in(&server, &cookie));
    let (status, response) = http(
        server.port,
        "GET",
        &format!("/?authorizationCode={unused}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(status, 303);
    assert!(
        !response.to_lowercase().contains("set-cookie"),
        "the voided code signs no one in"
    );
    db.payfac(&["merchant", "disable", "M9", "--end-sessions"])
        .refused("unknown merchant M9");
    let audit = db.payfac(&["audit", "--limit", "2"]);
    let lines: Vec<&str> = audit.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{audit:#?}");
    assert!(lines[0].contains("merchant.disable.end_sessions\tM9\trefused: unknown merchant M9"));
    assert!(
        lines[1]
            .contains("merchant.disable.end_sessions\tM1 (1 sessions ended, 1 codes voided)\tok")
    );
    assert_eq!(
        db.payfac(&["audit", "--limit", "0"]).code,
        2,
        "limit is 1-1000"
    );
}

#[test]
fn serve_admin_listen_serves_the_admin_api_there_only() {
    let db = TestDb::new();
    let token = db.payfac(&["admin-token", "create", "ops"]).one_line();
    let admin_port = free_port();
    let address = format!("127.0.0.1:{admin_port}");
    let server = Server::start(db.dir.path(), &db.url, &["--admin-listen", &address]);
    let bearer = format!("Bearer {token}");
    let mut answered = None;
    for _ in 0..100 {
        answered = http(
            admin_port,
            "GET",
            "/admin/v1/merchants",
            &[("Authorization", &bearer)],
            b"",
        );
        if answered.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, response) = answered.expect("the admin listener answers");
    assert_eq!(status, 200, "{response}");
    assert_eq!(body_of(&response), "[]");
    let (status, _) = http(admin_port, "GET", "/admin/v1/merchants", &[], b"").unwrap();
    assert_eq!(status, 401);
    let (status, _) = http(
        server.port,
        "GET",
        "/admin/v1/merchants",
        &[("Authorization", &bearer)],
        b"",
    )
    .unwrap();
    assert_eq!(status, 404, "never on the public listener");
    let listed = json_line(&db.payfac(&["admin-token", "list", "--json"]));
    assert!(listed[0]["lastUsedAt"].is_string(), "{listed}");
}

#[test]
fn an_admin_token_may_expire() {
    let db = TestDb::new();
    assert_ok_line(&db.payfac(&["admin-token", "create", "ci", "--expires-in", "90d"]));
    let listed = json_line(&db.payfac(&["admin-token", "list", "--json"]));
    let expires = listed[0]["expiresAt"].as_str().expect("an expiry");
    let created = listed[0]["createdAt"].as_str().unwrap();
    assert!(expires > created && expires.ends_with('Z'), "{listed}");
    for bad in ["0", "-1h", "1w", "soon"] {
        let flag = format!("--expires-in={bad}");
        let refused = db.payfac(&["admin-token", "create", "x", flag.as_str()]);
        assert_eq!(refused.code, 2, "{bad}: {refused:#?}");
        assert!(
            refused.stderr.contains("not a duration"),
            "{bad}: {refused:#?}"
        );
    }
}

fn assert_ok_line(output: &Output) {
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(output.one_line().starts_with("pfadm_"));
}

/// Issue 30: `payfac oidc-client add|list|remove`, the secret shown once,
/// the change audited, `identity-key rotate --rs256` printing a kid.
#[test]
fn oidc_clients_are_added_listed_and_removed() {
    let db = TestDb::new();
    let added = json_line(&db.payfac(&[
        "oidc-client",
        "add",
        "Help desk",
        "--redirect-uri",
        "https://help.example/cb",
        "--redirect-uri",
        "http://127.0.0.1:9000/cb",
        "--post-logout-redirect-uri",
        "https://help.example/bye",
    ]));
    let id = added["clientId"].as_str().unwrap().to_owned();
    let secret = added["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);
    let public = json_line(&db.payfac(&[
        "oidc-client",
        "add",
        "App",
        "--redirect-uri",
        "com.example.app:/cb",
        "--public",
        "--id-token-alg",
        "EdDSA",
    ]));
    assert_eq!(public.as_object().unwrap().len(), 1, "no secret: {public}");
    db.payfac(&[
        "oidc-client",
        "add",
        "X",
        "--redirect-uri",
        "http://help.example/cb",
    ])
    .refused("http is allowed for loopback hosts only");

    let listed = db.payfac(&["oidc-client", "list"]);
    assert!(!listed.stdout.contains(&secret));
    let listed = json_line(&listed);
    let listed = listed.as_array().unwrap().clone();
    let help = listed
        .iter()
        .find(|c| c["clientId"] == id.as_str())
        .unwrap();
    assert_eq!(
        help["redirectUris"],
        serde_json::json!(["https://help.example/cb", "http://127.0.0.1:9000/cb"])
    );
    assert_eq!(listed.iter().filter(|c| c["public"] == true).count(), 1);
    assert_eq!(
        json_line(&db.payfac(&["oidc-client", "remove", &id])),
        serde_json::json!({"clientId": id, "removed": true})
    );
    db.payfac(&["oidc-client", "remove", &id])
        .refused(&format!("unknown OpenID client {id}"));
    let audit = db.payfac(&["audit", "--json"]);
    assert!(audit.stdout.contains("oidc_client.add"), "{audit:#?}");
    assert!(!audit.stdout.contains(&secret));

    let kid = db.payfac(&["identity-key", "rotate", "--rs256"]).one_line();
    assert_eq!(kid.len(), 43, "a thumbprint kid");
}
