//! Every command explains itself, and usage errors are one line.

use crate::helpers::TestDb;

// ------------------------------------------------------------------------ help

#[test]
fn every_command_explains_itself() {
    let dir = TestDb::new();
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["config"],
        &["merchant"],
        &["merchant", "add"],
        &["merchant", "key"],
        &["merchant", "key", "add"],
        &["merchant", "key", "remove"],
        &["merchant", "disable"],
        &["merchant", "enable"],
        &["merchant", "list"],
        &["keygen"],
        &["sign"],
        &["user-sync"],
        &["migrate"],
        &["backup"],
        &["oidc-client"],
        &["oidc-client", "add"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = dir.payfac_plain(&args);
        assert_eq!(output.code, 0, "{args:?}: {output:#?}");
        assert!(output.stdout.contains("Usage: payfac"), "{args:?}");
    }
    let version = dir.payfac_plain(&["--version"]);
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("payfac "));
}

#[test]
fn usage_errors_are_one_line_too() {
    let dir = TestDb::new();
    let cases: &[&[&str]] = &[
        &["merchant", "add", "X"],
        &[
            "merchant",
            "add",
            "X",
            "--public-key",
            "a",
            "--generate-key",
            "b",
        ],
        &["keygen", "--out", "k", "--bits", "many"],
        &["sign", "--key", "k.pem"],
        &["no-such-command"],
    ];
    for args in cases {
        let output = dir.payfac_plain(args);
        assert_eq!(output.code, 2, "{args:?}: {output:#?}");
        output.refused("");
    }
}
