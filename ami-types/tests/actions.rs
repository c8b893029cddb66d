//! Typed actions produce the exact bytes on the wire, and their requests the
//! right reply expectations and outputs.

use std::time::Duration;

use ami_proto::{Action, OriginateOutcome, OriginateReason, Parsed, Parser, Reply};
use ami_types::actions::{
    Command, CoreShowChannels, Hangup, Logoff, MuteAudio, Originate, Ping, Redirect, Setvar, Status,
};
use ami_types::enums::{MuteAudioDirection, MuteAudioState};
use ami_types::Request;

fn wire(action: impl Into<Action>) -> String {
    let mut out = Vec::new();
    action.into().encode("t-1", &mut out).expect("encodes");
    String::from_utf8(out).expect("UTF-8")
}

fn packet(text: &str) -> ami_proto::Packet {
    let mut parser = Parser::without_banner();
    parser.feed(text.as_bytes());
    match parser.next() {
        Some(Parsed::Packet(packet)) => packet,
        other => panic!("{other:?}"),
    }
}

#[test]
fn originate_builder_writes_typed_values_and_repeated_variables() {
    let action = Originate::new("PJSIP/100")
        .context("default")
        .exten("200")
        .priority(1)
        .timeout(Duration::from_secs(20))
        .caller_id("Desk <100>")
        .variable("A", "1")
        .variable("B", "x,y")
        .async_(true);
    assert_eq!(
        wire(action),
        "Action: Originate\r\nActionID: t-1\r\nChannel: PJSIP/100\r\nContext: default\r\n\
         Exten: 200\r\nPriority: 1\r\nTimeout: 20000\r\nCallerID: Desk <100>\r\n\
         Variable: A=1\r\nVariable: B=x\\,y\r\nAsync: true\r\n\r\n"
    );
    assert_eq!(
        wire(Originate::new("Local/1@test").async_(false)),
        "Action: Originate\r\nActionID: t-1\r\nChannel: Local/1@test\r\nAsync: false\r\n\r\n"
    );
}

#[test]
fn required_parameters_come_from_the_constructor() {
    assert_eq!(
        wire(Hangup::new("PJSIP/100-0001")),
        "Action: Hangup\r\nActionID: t-1\r\nChannel: PJSIP/100-0001\r\n\r\n"
    );
    assert_eq!(
        wire(Setvar::new("FOO", "bar").channel("PJSIP/1-1")),
        "Action: Setvar\r\nActionID: t-1\r\nVariable: FOO\r\nValue: bar\r\nChannel: PJSIP/1-1\r\n\r\n"
    );
    assert_eq!(
        wire(Redirect::new("PJSIP/1-1", "200", "default", 2)),
        "Action: Redirect\r\nActionID: t-1\r\nChannel: PJSIP/1-1\r\nExten: 200\r\n\
         Context: default\r\nPriority: 2\r\n\r\n"
    );
    assert_eq!(wire(Ping::new()), "Action: Ping\r\nActionID: t-1\r\n\r\n");
    assert_eq!(Ping::default().into_action(), Ping::new().into_action());
}

#[test]
fn enum_and_bool_parameters_render_their_wire_values() {
    assert_eq!(
        wire(MuteAudio::new("PJSIP/1-1", MuteAudioDirection::In, MuteAudioState::On)),
        "Action: MuteAudio\r\nActionID: t-1\r\nChannel: PJSIP/1-1\r\nDirection: in\r\nState: on\r\n\r\n"
    );
    // Strings convert too; values the documentation does not list are kept.
    assert_eq!(MuteAudioDirection::from("out"), MuteAudioDirection::Out);
    assert_eq!(
        MuteAudioDirection::from("sideways"),
        MuteAudioDirection::Other("sideways".into())
    );
    assert_eq!(MuteAudioDirection::from("sideways").as_str(), "sideways");
    assert_eq!(
        wire(Status::new().all_variables(true)),
        "Action: Status\r\nActionID: t-1\r\nAllVariables: true\r\n\r\n"
    );
}

#[test]
fn numbered_parameters_take_their_number() {
    use ami_types::actions::UpdateConfig;
    use ami_types::enums::UpdateConfigAction;
    let action = UpdateConfig::new("a.conf", "a.conf")
        .action(0, UpdateConfigAction::NewCat)
        .cat(0, "general")
        .action(1, "Append")
        .cat(1, "general")
        .var(1, "x")
        .value(1, "1");
    assert_eq!(
        wire(action),
        "Action: UpdateConfig\r\nActionID: t-1\r\nSrcFilename: a.conf\r\nDstFilename: a.conf\r\n\
         Action-000000: NewCat\r\nCat-000000: general\r\nAction-000001: Append\r\n\
         Cat-000001: general\r\nVar-000001: x\r\nValue-000001: 1\r\n\r\n"
    );
}

#[test]
fn injection_is_still_refused() {
    let action = Hangup::new("PJSIP/1\r\n\r\nAction: Originate").into_action();
    assert!(action.check().is_err());
}

#[test]
fn requests_set_expectations_and_parse_replies() {
    // Originate: async and waiting for the outcome, unless Async was set.
    let mut out = Vec::new();
    Request::into_action(Originate::new("Local/1@test"))
        .encode("o-1", &mut out)
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Action: Originate\r\nActionID: o-1\r\nChannel: Local/1@test\r\nAsync: true\r\n\r\n"
    );
    let mut out = Vec::new();
    Request::into_action(Originate::new("Local/1@test").async_(true))
        .encode("o-1", &mut out)
        .unwrap();
    assert_eq!(out.windows(5).filter(|w| w == b"Async").count(), 1);

    let outcome = OriginateOutcome {
        response: packet("Response: Success\r\nMessage: Originate successfully queued\r\n\r\n"),
        event: Some(packet(
            "Event: OriginateResponse\r\nResponse: Success\r\nReason: 4\r\n\r\n",
        )),
    };
    let parsed = <Originate as Request>::parse(Reply::Originate(Box::new(outcome))).unwrap();
    assert_eq!(parsed.reason_code(), Some(OriginateReason::Answered));

    // Command: the output lines.
    let reply = Reply::Response(packet(
        "Response: Success\r\nMessage: Command output follows\r\nOutput: a\r\nOutput: b\r\n\r\n",
    ));
    assert_eq!(<Command as Request>::parse(reply).unwrap(), ["a", "b"]);

    // A list action answers with its typed list; an error is Rejected.
    let error = Reply::Response(packet(
        "Response: Error\r\nMessage: Permission denied\r\n\r\n",
    ));
    assert!(matches!(
        <CoreShowChannels as Request>::parse(error),
        Err(ami_proto::Error::Rejected(_))
    ));
    let list = ami_proto::List {
        response: packet("Response: Success\r\nEventList: start\r\n\r\n"),
        items: vec![packet(
            "Event: CoreShowChannel\r\nChannel: PJSIP/1-1\r\nDuration: 00:00:05\r\n\r\n",
        )],
        complete: packet(
            "Event: CoreShowChannelsComplete\r\nEventList: Complete\r\nListItems: 1\r\n\r\n",
        ),
        received: 1,
    };
    let typed = <CoreShowChannels as Request>::parse(Reply::List(Box::new(list))).unwrap();
    let names: Vec<_> = typed
        .items()
        .map(|c| c.channel().name().unwrap().to_string())
        .collect();
    assert_eq!(names, ["PJSIP/1-1"]);
    assert_eq!(typed.complete().unwrap().list_items(), Some(1));

    // A failed CLI command keeps its output lines.
    let failed = Reply::Response(packet(
        "Response: Error\r\nMessage: Command output follows\r\nOutput: No such command\r\n\r\n",
    ));
    assert!(matches!(
        <Command as Request>::parse(failed),
        Err(ami_proto::Error::CommandFailed { .. })
    ));

    // Logoff: nothing; other actions: the reply.
    let goodbye = packet("Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n");
    <Logoff as Request>::parse(Reply::Response(goodbye)).unwrap();
    let pong = Reply::Response(packet("Response: Success\r\nPing: Pong\r\n\r\n"));
    assert_eq!(<Ping as Request>::parse(pong.clone()).unwrap(), pong);
}
