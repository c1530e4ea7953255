//! Property tests: the grammar never panics on arbitrary input at any level, `split_commands`
//! round-trips through `;` joins, and parse results respect the socket level.

use percore_admin::*;
use proptest::prelude::*;

fn any_level() -> impl Strategy<Value = Level> {
    prop_oneof![Just(Level::User), Just(Level::Operator), Just(Level::Admin)]
}

/// Lines built from the grammar's own words, to reach deep branches more often than noise.
fn wordy_line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("show".to_owned()),
        Just("set".to_owned()),
        Just("get".to_owned()),
        Just("server".to_owned()),
        Just("servers".to_owned()),
        Just("state".to_owned()),
        Just("weight".to_owned()),
        Just("maxconn".to_owned()),
        Just("frontend".to_owned()),
        Just("sess".to_owned()),
        Just("stat".to_owned()),
        Just("shutdown".to_owned()),
        Just("sessions".to_owned()),
        Just("session".to_owned()),
        Just("help".to_owned()),
        Just("app/s1".to_owned()),
        Just(";".to_owned()),
        Just("\\".to_owned()),
        "[-+0-9a-z%/#x]{0,12}",
        any::<String>(),
    ];
    prop::collection::vec(word, 0..10).prop_map(|words| words.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_and_split_never_panic(line in any::<String>(), level in any_level()) {
        for part in split_commands(&line) {
            let _ = parse(&part, level);
        }
        let _ = parse(&line, level);
        let _ = tokenize(&line);
    }

    #[test]
    fn wordy_lines_never_panic_and_respect_level(line in wordy_line(), level in any_level()) {
        for part in split_commands(&line) {
            match parse(&part, level) {
                Ok(cmd) => prop_assert!(cmd.level() <= level),
                Err(e) => prop_assert!(!e.body().is_empty()),
            }
        }
    }

    #[test]
    fn help_never_panics(words in prop::collection::vec(any::<String>(), 0..6), level in any_level()) {
        let help = render_help(level, &words);
        prop_assert!(help.starts_with("The following commands are valid at this level:\n"));
        prop_assert!(help.ends_with("  quit                                    : disconnect\n"));
    }

    #[test]
    fn split_is_identity_without_separators(line in "[^;\\\\]*") {
        prop_assume!(!line.ends_with('\r') && !line.ends_with('\n'));
        prop_assert_eq!(split_commands(&line), vec![line.clone()]);
    }

    #[test]
    fn split_join_round_trip(parts in prop::collection::vec("[^;\\\\\r\n]*", 1..8)) {
        let line = parts.join(";");
        prop_assert_eq!(split_commands(&line), parts);
    }

    #[test]
    fn weights_parse_within_bounds(text in any::<String>(), initial in 0u32..=256) {
        if let Ok(spec) = WeightSpec::parse(&text) {
            prop_assert!(spec.resolve(initial) <= 256);
        }
    }

    #[test]
    fn stat_csv_rows_have_header_width(names in prop::collection::vec("[a-z,\"\n]{0,8}", 1..5)) {
        let rows: Vec<StatRow> = names
            .iter()
            .map(|n| StatRow { pxname: n.clone(), svname: n.clone(), status: n.clone(), ..Default::default() })
            .collect();
        let csv = render_stat_csv(&rows, Level::Admin);
        prop_assert!(csv.starts_with(STAT_CSV_HEADER));
        // Quoted fields may hold commas and newlines; the readable table must still cope.
        let _ = render_stat_table(&csv);
        if names.iter().all(|n| !n.contains([',', '"', '\n'])) {
            for line in csv.lines().skip(1) {
                // HAProxy's 128 columns plus percore's `percore_killed`.
                prop_assert_eq!(line.matches(',').count(), 129);
            }
        }
    }
}
