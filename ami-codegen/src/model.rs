//! Reads Asterisk's XML documentation into a small model: actions, events, their
//! parameters, enumerations and list replies.
//!
//! Only facts are taken from the XML: names, module, `since` versions, `required`,
//! `default`, `multiple`, `<enumlist>` values and the events a list answers with.
//! The prose stays out; the one exception is a look for the word "milliseconds" in a
//! parameter's text, which decides that its Rust type is a `Duration`.
//!
//! `xi:include` elements are resolved as the tree is walked: each one names other
//! nodes of the same document with an XPointer path such as
//! `xpointer(/docs/managerEvent[@name='Hangup']/managerEventInstance/syntax/parameter[@name='Cause'])`,
//! and the walker reads those nodes in its place.

use std::collections::{BTreeMap, BTreeSet};

use roxmltree::{Document, Node, NodeId};

const XINCLUDE: &str = "http://www.w3.org/2001/XInclude";

/// The suffix of a numbered action parameter: UpdateConfig documents `Action-000000`
/// for `Action-000000`, `Action-000001`, ... (one per change).
pub const NUMBERED: &str = "-000000";

/// The whole model, every list sorted by name.
pub struct Model {
    pub actions: Vec<Action>,
    pub events: Vec<Event>,
    pub enums: Vec<EnumDef>,
}

/// One `<manager>` action.
pub struct Action {
    pub name: String,
    pub modules: Vec<String>,
    pub since: Vec<String>,
    pub params: Vec<Param>,
    pub list: Option<ListSpec>,
}

/// The events a list action answers with.
pub struct ListSpec {
    pub items: Vec<String>,
    pub complete: Option<String>,
    /// `true` when read from `<responses>`, `false` when from the hand-kept table.
    pub documented: bool,
}

/// One `<managerEvent>` (all its instances merged).
pub struct Event {
    pub name: String,
    pub modules: Vec<String>,
    pub since: Vec<String>,
    pub classes: Vec<String>,
    pub items: Vec<EventItem>,
}

/// A part of an event's syntax.
pub enum EventItem {
    Param(Param),
    /// `<channel_snapshot prefix="..."/>`.
    Channel(String),
    /// `<bridge_snapshot prefix="..."/>`.
    Bridge(String),
}

/// One `<parameter>`.
pub struct Param {
    pub name: String,
    pub required: bool,
    pub default: Option<String>,
    pub multiple: bool,
    /// Index into [`Model::enums`].
    pub enumeration: Option<usize>,
    /// The text says the value is in milliseconds.
    pub millis: bool,
    /// The `<enumlist>` values, lower-cased (also when they make no Rust enum).
    pub values_lower: BTreeSet<String>,
}

/// The values of one `<enumlist>`, named after the action or event and parameter
/// where it is written.
pub struct EnumDef {
    pub owner: String,
    pub owner_is_event: bool,
    pub param: String,
    pub values: Vec<String>,
}

/// List actions whose `<responses>` the documentation does not fill in: (action,
/// item events, closing event), as the module named in each comment sends them.
/// Hand-kept: our captured traffic only holds one list (CoreShowChannels, which is
/// documented: `CoreShowChannel` items, `CoreShowChannelsComplete`), so these rows
/// come from the modules' source (several checked against Asterisk's C source and
/// other clients' tables), not from the corpus. An item name not documented
/// as an event is still collected; the typed list then yields it as `AnyEvent`.
const UNDOCUMENTED_LISTS: &[(&str, &[&str], &str)] = &[
    // app_agent_pool.c: action_agents
    ("Agents", &["Agents"], "AgentsComplete"),
    // main/bridge.c: manager_bridges_action / manager_bridge_tech_list
    ("BridgeList", &["BridgeListItem"], "BridgeListComplete"),
    (
        "BridgeTechnologyList",
        &["BridgeTechnologyListItem"],
        "BridgeTechnologyListComplete",
    ),
    // app_confbridge.c: action_confbridgelist / action_confbridgelistrooms
    (
        "ConfbridgeList",
        &["ConfbridgeList"],
        "ConfbridgeListComplete",
    ),
    (
        "ConfbridgeListRooms",
        &["ConfbridgeListRooms"],
        "ConfbridgeListRoomsComplete",
    ),
    // main/manager_channels.c (18.19+): action_coreshowchannelmap
    // (item event name not checked: items come back as `AnyEvent`)
    ("CoreShowChannelMap", &[], "CoreShowChannelMapComplete"),
    // chan_dahdi.c: action_dahdishowchannels / action_dahdishowstatus
    (
        "DAHDIShowChannels",
        &["DAHDIShowChannels"],
        "DAHDIShowChannelsComplete",
    ),
    (
        "DAHDIShowStatus",
        &["DAHDIShowStatus"],
        "DAHDIShowStatusComplete",
    ),
    // main/manager.c: action_dbget / action_dbgettree
    ("DBGet", &["DBGetResponse"], "DBGetComplete"),
    ("DBGetTree", &["DBGetTreeResponse"], "DBGetTreeComplete"),
    // res_fax.c: manager_fax_sessions
    ("FAXSessions", &["FAXSessionsEntry"], "FAXSessionsComplete"),
    // chan_iax2.c: manager_iax2_show_peers / peer_list / registry
    ("IAXpeerlist", &["PeerEntry"], "PeerlistComplete"),
    ("IAXpeers", &["PeerEntry"], "PeerlistComplete"),
    ("IAXregistry", &["RegistryEntry"], "RegistrationsComplete"),
    // app_meetme.c: action_meetmelist / action_meetmelistrooms
    ("MeetmeList", &["MeetmeList"], "MeetmeListComplete"),
    (
        "MeetmeListRooms",
        &["MeetmeListRooms"],
        "MeetmeListRoomsComplete",
    ),
    // res_mwi_devstate.c / res_manager_mwi: mwi_mailbox_get
    ("MWIGet", &["MWIGet"], "MWIGetComplete"),
    // res_pjsip: the show commands
    (
        "PJSIPShowRegistrationInboundContactStatuses",
        &["ContactStatusDetail"],
        "ContactStatusDetailComplete",
    ),
    (
        "PJSIPShowRegistrationsInbound",
        &["InboundRegistrationDetail"],
        "InboundRegistrationDetailComplete",
    ),
    (
        "PJSIPShowRegistrationsOutbound",
        &["OutboundRegistrationDetail"],
        "OutboundRegistrationDetailComplete",
    ),
    (
        "PJSIPShowResourceLists",
        &["ResourceListDetail"],
        "ResourceListDetailComplete",
    ),
    (
        "PJSIPShowSubscriptionsInbound",
        &["InboundSubscriptionDetail"],
        "InboundSubscriptionDetailComplete",
    ),
    (
        "PJSIPShowSubscriptionsOutbound",
        &["OutboundSubscriptionDetail"],
        "OutboundSubscriptionDetailComplete",
    ),
    // sig_pri / chan_dahdi.c: action_prishowspans
    ("PRIShowSpans", &["PRIShowSpans"], "PRIShowSpansComplete"),
    // res_parking: manager_parking_status / manager_parking_lot_list
    ("ParkedCalls", &["ParkedCall"], "ParkedCallsComplete"),
    ("Parkinglots", &["Parkinglot"], "ParkinglotsComplete"),
    // app_queue.c: manager_queues_status / manager_queues_summary
    (
        "QueueStatus",
        &["QueueParams", "QueueMember", "QueueEntry"],
        "QueueStatusComplete",
    ),
    ("QueueSummary", &["QueueSummary"], "QueueSummaryComplete"),
    // main/pbx.c: manager_show_dialplan
    ("ShowDialPlan", &["ListDialplan"], "ShowDialPlanComplete"),
    // app_voicemail.c: manager_list_voicemail_users
    (
        "VoicemailUsersList",
        &["VoicemailUserEntry"],
        "VoicemailUserEntryComplete",
    ),
];

/// Reads the model from the XML text.
pub fn read(xml: &str) -> Result<Model, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = Document::parse_with_options(xml, options).map_err(|e| e.to_string())?;
    let mut reader = Reader {
        doc: &doc,
        enums: Vec::new(),
        enum_of: std::collections::HashMap::new(),
    };

    let mut actions: BTreeMap<String, Action> = BTreeMap::new();
    // Several modules document the same action (app_voicemail, _imap, _odbc): keep
    // the first module in name order, list all.
    let mut action_nodes: Vec<Node> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("manager"))
        .collect();
    action_nodes.sort_by_key(|n| (attr(n, "name"), attr(n, "module")));
    for node in action_nodes {
        let name = attr(&node, "name");
        let module = attr(&node, "module");
        if let Some(action) = actions.get_mut(&name) {
            push_unique(&mut action.modules, module);
            continue;
        }
        let action = reader.action(node, name.clone(), module)?;
        actions.insert(name, action);
    }
    // The table fills in what the documentation leaves out: an action another
    // Asterisk version does not have is skipped, and documented responses win.
    for (name, items, complete) in UNDOCUMENTED_LISTS {
        let Some(action) = actions.get_mut(*name) else {
            continue;
        };
        if action.list.is_none() {
            action.list = Some(ListSpec {
                items: items.iter().map(|s| s.to_string()).collect(),
                complete: Some(complete.to_string()),
                documented: false,
            });
        }
    }

    let mut events: BTreeMap<String, Event> = BTreeMap::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("managerEvent")) {
        let name = attr(&node, "name");
        let event = events.entry(name.clone()).or_insert_with(|| Event {
            name,
            modules: Vec::new(),
            since: Vec::new(),
            classes: Vec::new(),
            items: Vec::new(),
        });
        reader.event_into(node, event)?;
    }

    Ok(Model {
        actions: actions.into_values().collect(),
        events: events.into_values().collect(),
        enums: reader.enums,
    })
}

struct Reader<'a, 'input> {
    doc: &'a Document<'input>,
    enums: Vec<EnumDef>,
    /// Enumlist node -> index in `enums`, so an included parameter shares its type.
    enum_of: std::collections::HashMap<NodeId, Option<usize>>,
}

impl<'a, 'input> Reader<'a, 'input> {
    fn action(
        &mut self,
        node: Node<'a, 'input>,
        name: String,
        module: String,
    ) -> Result<Action, String> {
        let since = since_of(self, node);
        let mut params: Vec<Param> = Vec::new();
        for syntax in self
            .children(node)
            .into_iter()
            .filter(|n| n.has_tag_name("syntax"))
        {
            for child in self.children(syntax) {
                if child.has_tag_name("parameter") {
                    let param = self.param(child)?;
                    // The core assigns ActionID.
                    if param.name.eq_ignore_ascii_case("ActionID") {
                        continue;
                    }
                    if !params
                        .iter()
                        .any(|p| p.name.eq_ignore_ascii_case(&param.name))
                    {
                        params.push(param);
                    }
                }
            }
        }
        let mut list = None;
        for responses in self
            .children(node)
            .into_iter()
            .filter(|n| n.has_tag_name("responses"))
        {
            let mut items = Vec::new();
            let mut complete = None;
            for child in self.children(responses) {
                if child.has_tag_name("list-elements") {
                    for item in self.children(child) {
                        if item.has_tag_name("managerEvent") {
                            items.push(attr(&item, "name"));
                        }
                    }
                } else if child.has_tag_name("managerEvent") {
                    complete = Some(attr(&child, "name"));
                }
            }
            list = Some(ListSpec {
                items,
                complete,
                documented: true,
            });
        }
        Ok(Action {
            name,
            modules: vec![module],
            since,
            params,
            list,
        })
    }

    fn event_into(&mut self, node: Node<'a, 'input>, event: &mut Event) -> Result<(), String> {
        push_unique(&mut event.modules, attr(&node, "module"));
        for instance in self
            .children(node)
            .into_iter()
            .filter(|n| n.has_tag_name("managerEventInstance"))
        {
            if let Some(class) = instance.attribute("class") {
                let class = class.trim_start_matches("EVENT_FLAG_").to_ascii_lowercase();
                push_unique(&mut event.classes, class);
            }
            for version in since_of(self, instance) {
                push_unique(&mut event.since, version);
            }
            for syntax in self
                .children(instance)
                .into_iter()
                .filter(|n| n.has_tag_name("syntax"))
            {
                for child in self.children(syntax) {
                    let item = match child.tag_name().name() {
                        "parameter" => EventItem::Param(self.param(child)?),
                        "channel_snapshot" => EventItem::Channel(attr(&child, "prefix")),
                        "bridge_snapshot" => EventItem::Bridge(attr(&child, "prefix")),
                        _ => continue,
                    };
                    if !event.items.iter().any(|known| same_item(known, &item)) {
                        event.items.push(item);
                    }
                }
            }
        }
        Ok(())
    }

    fn param(&mut self, node: Node<'a, 'input>) -> Result<Param, String> {
        let name = attr(&node, "name");
        if name.is_empty() {
            return Err("a parameter without a name".into());
        }
        let text: String = node
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect::<String>()
            .to_ascii_lowercase();
        let millis = text.contains("millisecond") || text.contains("(in ms");
        let flag = |key: &str| {
            node.attribute(key)
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes"))
        };
        let mut enumeration = None;
        let mut values_lower = BTreeSet::new();
        if let Some(list) = self
            .children(node)
            .into_iter()
            .find(|n| n.has_tag_name("enumlist"))
        {
            enumeration = self.enumeration(list, &name);
            for value in self
                .children(list)
                .into_iter()
                .filter(|n| n.has_tag_name("enum"))
            {
                values_lower.insert(attr(&value, "name").to_ascii_lowercase());
            }
        }
        Ok(Param {
            required: flag("required"),
            multiple: flag("multiple"),
            default: node.attribute("default").map(str::to_string),
            name,
            enumeration,
            millis,
            values_lower,
        })
    }

    /// An enumlist becomes a Rust enum when its values are plain tokens.
    fn enumeration(&mut self, list: Node<'a, 'input>, param: &str) -> Option<usize> {
        if let Some(known) = self.enum_of.get(&list.id()) {
            return *known;
        }
        let values: Vec<String> = self
            .children(list)
            .into_iter()
            .filter(|n| n.has_tag_name("enum"))
            .map(|n| attr(&n, "name"))
            .collect();
        let plain = |v: &String| {
            !v.is_empty()
                && v.trim() == v
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ' | '.'))
        };
        let unique: BTreeSet<&String> = values.iter().collect();
        // An `<enum>` holding its own `<enumlist>` documents options per value
        // (UpdateConfig's `Options-000000` for `NewCat`), not a list of values.
        let nested = list
            .children()
            .filter(|n| n.has_tag_name("enum"))
            .any(|n| n.descendants().skip(1).any(|d| d.has_tag_name("enumlist")));
        let owner = list
            .ancestors()
            .find(|n| n.has_tag_name("manager") || n.has_tag_name("managerEvent"));
        let index = match owner {
            Some(owner)
                if !values.is_empty()
                    && !nested
                    && values.iter().all(plain)
                    && unique.len() == values.len() =>
            {
                self.enums.push(EnumDef {
                    owner: attr(&owner, "name"),
                    owner_is_event: owner.has_tag_name("managerEvent"),
                    param: param.trim_end_matches(NUMBERED).to_string(),
                    values,
                });
                Some(self.enums.len() - 1)
            }
            _ => None,
        };
        self.enum_of.insert(list.id(), index);
        index
    }

    /// The element children of `node`, with `xi:include` elements replaced by what
    /// they point at.
    fn children(&self, node: Node<'a, 'input>) -> Vec<Node<'a, 'input>> {
        let mut out = Vec::new();
        for child in node.children().filter(|n| n.is_element()) {
            self.expand(child, &mut out, 0);
        }
        out
    }

    fn expand(&self, node: Node<'a, 'input>, out: &mut Vec<Node<'a, 'input>>, depth: usize) {
        let is_include =
            node.tag_name().name() == "include" && node.tag_name().namespace() == Some(XINCLUDE);
        if !is_include {
            out.push(node);
            return;
        }
        if depth > 8 {
            return;
        }
        if let Some(pointer) = node.attribute("xpointer") {
            for target in self.xpointer(pointer) {
                self.expand(target, out, depth + 1);
            }
        }
    }

    /// Evaluates the XPointer subset Asterisk uses: an absolute path of element
    /// names, each optionally with `[@attr='value']` or `[n]`, and a final `node()`.
    fn xpointer(&self, pointer: &str) -> Vec<Node<'a, 'input>> {
        let path = pointer
            .trim()
            .strip_prefix("xpointer(")
            .and_then(|p| p.strip_suffix(')'))
            .unwrap_or(pointer);
        let mut steps = split_path(path).into_iter();
        let root = self.doc.root_element();
        match steps.next() {
            Some(first) if step_matches(root, &first, 1) => {}
            _ => return Vec::new(),
        }
        let mut current = vec![root];
        for step in steps {
            let mut next = Vec::new();
            for node in current {
                let mut position = 0;
                for child in node.children() {
                    if step == "node()" {
                        if child.is_element() {
                            next.push(child);
                        }
                        continue;
                    }
                    if child.is_element() && child.tag_name().name() == step_name(&step) {
                        position += 1;
                        if step_matches(child, &step, position) {
                            next.push(child);
                        }
                    }
                }
            }
            current = next;
        }
        current
    }
}

fn since_of<'a, 'input>(reader: &Reader<'a, 'input>, node: Node<'a, 'input>) -> Vec<String> {
    let mut versions = Vec::new();
    for since in reader
        .children(node)
        .into_iter()
        .filter(|n| n.has_tag_name("since"))
    {
        for version in since.children().filter(|n| n.has_tag_name("version")) {
            if let Some(text) = version.text() {
                push_unique(&mut versions, text.trim().to_string());
            }
        }
    }
    versions
}

fn split_path(path: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for c in path.chars() {
        match (c, quote) {
            ('\'' | '"', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('/', None) => {
                if !current.is_empty() {
                    steps.push(std::mem::take(&mut current));
                }
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        steps.push(current);
    }
    steps
}

fn step_name(step: &str) -> &str {
    step.split('[').next().unwrap_or(step)
}

fn step_matches(node: Node, step: &str, position: usize) -> bool {
    if node.tag_name().name() != step_name(step) {
        return false;
    }
    let Some(predicate) = step.find('[').map(|at| &step[at + 1..step.len() - 1]) else {
        return true;
    };
    if let Ok(n) = predicate.parse::<usize>() {
        return n == position;
    }
    let Some(rest) = predicate.strip_prefix('@') else {
        return false;
    };
    let Some((key, value)) = rest.split_once('=') else {
        return false;
    };
    let value = value.trim_matches(|c| c == '\'' || c == '"');
    node.attribute(key) == Some(value)
}

fn same_item(a: &EventItem, b: &EventItem) -> bool {
    match (a, b) {
        (EventItem::Param(a), EventItem::Param(b)) => a.name.eq_ignore_ascii_case(&b.name),
        (EventItem::Channel(a), EventItem::Channel(b)) => a == b,
        (EventItem::Bridge(a), EventItem::Bridge(b)) => a == b,
        _ => false,
    }
}

fn attr(node: &Node, key: &str) -> String {
    node.attribute(key).unwrap_or_default().trim().to_string()
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && !list.contains(&value) {
        list.push(value);
    }
}
