//! The compose file each shard runs: the user's, resolved by compose, made
//! safe to start many times at once.
//!
//! Two copies of a real compose file collide on published host ports,
//! `container_name`, and networks or volumes given a fixed `name`. The derived
//! file drops those (a published port becomes `expose`, so readiness checks
//! still know it), labels everything stack-run creates so it can be found
//! and swept, and points services that have a `build:` at the image built
//! once for the whole run. The user's file is only read. The derived file is
//! JSON, which every compose reads as YAML.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::model::network::{Network, Subnet, network_name};

/// Where the shard's artifact folder is mounted in the service container.
pub const OUT_MOUNT: &str = "/shardstack/out";

/// The resolved compose model, as `compose config` printed it.
#[derive(Debug, Clone)]
pub struct Model {
    doc: Value,
}

impl Model {
    /// Parse `compose config` output.
    pub fn parse(yaml: &str) -> anyhow::Result<Model> {
        let doc: Value =
            serde_norway::from_str(yaml).context("cannot read compose config output")?;
        if !doc.get("services").is_some_and(Value::is_object) {
            bail!("compose config printed no services");
        }
        Ok(Model { doc })
    }

    fn services(&self) -> &Map<String, Value> {
        self.doc["services"].as_object().expect("checked in parse")
    }

    /// A service's resolved configuration (null when there is none).
    pub fn service(&self, name: &str) -> &Value {
        self.services().get(name).unwrap_or(&Value::Null)
    }

    /// The sidecars of `service`: everything it depends on, directly or not,
    /// in a stable order.
    pub fn sidecars(&self, service: &str) -> anyhow::Result<Vec<String>> {
        let services = self.services();
        if !services.contains_key(service) {
            let names: Vec<&str> = services.keys().map(String::as_str).collect();
            bail!(
                "the compose file has no service {service:?} (it has: {})",
                names.join(", ")
            );
        }
        let mut found: Vec<String> = Vec::new();
        let mut todo = vec![service.to_string()];
        while let Some(name) = todo.pop() {
            for dep in dependencies(&services[&name]) {
                if dep != service && !found.contains(&dep) {
                    found.push(dep.clone());
                    todo.push(dep);
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// The services with a `build:` section: built once per run.
    pub fn built_services(&self) -> Vec<String> {
        self.services()
            .iter()
            .filter(|(_, config)| config.get("build").is_some())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// What cannot be isolated, in words: shared external resources, the host network.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for kind in ["networks", "volumes"] {
            if let Some(entries) = self.doc.get(kind).and_then(Value::as_object) {
                for (name, config) in entries {
                    if is_external(config) {
                        warnings.push(format!(
                            "{kind} {name:?} is external: every shard shares it"
                        ));
                    }
                }
            }
        }
        for (name, config) in self.services() {
            if config.get("network_mode").and_then(Value::as_str) == Some("host") {
                warnings.push(format!(
                    "service {name:?} uses the host network: its ports are shared by every shard"
                ));
            }
        }
        warnings
    }

    /// The file that builds the run's images: `images` maps each built
    /// service to the tag it gets.
    pub fn build_file(&self, labels: &Labels, images: &BTreeMap<String, String>) -> Value {
        let mut doc = self.isolated(labels);
        for (name, image) in images {
            let service = &mut doc["services"][name];
            service["image"] = json!(image);
            if let Some(build) = service.get_mut("build") {
                if build.is_string() {
                    *build = json!({ "context": build.clone() });
                }
                add_labels(build, labels);
            }
        }
        doc
    }

    /// The networks stack-run creates for each stack (see `subnets`), with
    /// their configs: every bridge network the stack has, `default` included.
    pub fn managed_networks(&self) -> anyhow::Result<Vec<(Network, Value)>> {
        let doc = self.isolated(&Labels::new());
        let mut managed = Vec::new();
        for (name, config) in doc["networks"].as_object().into_iter().flatten() {
            if let Some(network) = Network::of(name, config)? {
                managed.push((network, config.clone()));
            }
        }
        Ok(managed)
    }

    /// The file one shard runs: built images instead of `build:`, the
    /// networks stack-run created for `project` (`placed`, each with its
    /// subnet) as external ones, addresses pinned in a user's subnet moved to
    /// the same offset in the stack's, and the shard's artifact folder, if
    /// given, mounted at [`OUT_MOUNT`] in `service` (a stack that runs batch
    /// after batch mounts each one's with its `compose run`).
    pub fn shard_file(
        &self,
        labels: &Labels,
        images: &BTreeMap<String, String>,
        service: &str,
        out: Option<&Path>,
        (project, placed): (&str, &BTreeMap<String, Subnet>),
    ) -> Value {
        let mut doc = self.isolated(labels);
        place_networks(&mut doc, project, placed);
        for (name, image) in images {
            let config = &mut doc["services"][name];
            if let Some(config) = config.as_object_mut() {
                config.remove("build");
                config.insert("image".into(), json!(image));
            }
        }
        let Some(out) = out else { return doc };
        let mount = json!({
            "type": "bind",
            "source": out.display().to_string(),
            "target": OUT_MOUNT,
        });
        let config = &mut doc["services"][service];
        match config.get_mut("volumes").and_then(Value::as_array_mut) {
            Some(volumes) => volumes.push(mount),
            None => config["volumes"] = json!([mount]),
        }
        doc
    }

    /// The file `--collect` runs: `service` alone, without its
    /// dependencies, attached only to its own networks, with the volumes it
    /// mounts and none of the others. Listing tests needs no sidecar, so no
    /// sidecar's volume; the service's own stay, because a named volume over
    /// a bind mount (`venv:/code/.venv` under `.:/code`) is what shows the
    /// image's files there: without it the command would see the host's
    /// folder and list other tests than the shards run.
    pub fn collect_file(
        &self,
        labels: &Labels,
        images: &BTreeMap<String, String>,
        service: &str,
        placed: (&str, &BTreeMap<String, Subnet>),
    ) -> Value {
        let mut doc = self.shard_file(labels, images, service, None, placed);
        let services = doc["services"].as_object_mut().expect("checked in parse");
        services.retain(|name, _| name == service);
        let config = services[service]
            .as_object_mut()
            .expect("a service is a mapping");
        config.remove("depends_on");
        config.remove("links");
        let mounted: Vec<String> = config
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(volume_of)
            .collect();
        let networks = self.service_networks(service);
        let root = doc.as_object_mut().expect("compose config is a mapping");
        if let Some(volumes) = root.get_mut("volumes").and_then(Value::as_object_mut) {
            volumes.retain(|name, _| mounted.contains(name));
        }
        if let Some(declared) = root.get_mut("networks").and_then(Value::as_object_mut) {
            declared.retain(|name, _| networks.contains(name));
        }
        doc
    }

    /// The networks `service` attaches to: those it names, else `default`;
    /// none when it shares another's network stack (`network_mode`).
    pub fn service_networks(&self, service: &str) -> Vec<String> {
        let config = self.service(service);
        if config.get("network_mode").is_some() {
            return Vec::new();
        }
        match config.get("networks") {
            Some(Value::Object(map)) => map.keys().cloned().collect(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => vec!["default".to_string()],
        }
    }

    /// The model with every collision source removed and everything labelled.
    fn isolated(&self, labels: &Labels) -> Value {
        let mut doc = self.doc.clone();
        let root = doc.as_object_mut().expect("compose config is a mapping");
        // `-p` names the project; v2 prints a `name:` that would compete with it.
        root.remove("name");
        if let Some(version) = root.get_mut("version") {
            *version = json!(labelled_version(version));
        }
        let services = root
            .get_mut("services")
            .and_then(Value::as_object_mut)
            .expect("checked in parse");
        for config in services.values_mut() {
            if let Some(map) = config.as_object_mut() {
                map.remove("container_name");
                if let Some(ports) = map.remove("ports") {
                    expose_ports(map, &ports);
                }
            }
            add_labels(config, labels);
        }
        // The default network is implicit; declare it to label it.
        let networks = root.entry("networks").or_insert_with(|| json!({}));
        if let Some(networks) = networks.as_object_mut() {
            networks.entry("default").or_insert_with(|| json!({}));
        }
        for kind in ["networks", "volumes"] {
            let Some(entries) = root.get_mut(kind).and_then(Value::as_object_mut) else {
                continue;
            };
            for config in entries.values_mut() {
                if config.is_null() {
                    *config = json!({});
                }
                if is_external(config) {
                    continue;
                }
                // A fixed name is one network or volume for every shard.
                if let Some(map) = config.as_object_mut() {
                    map.remove("name");
                }
                add_labels(config, labels);
            }
        }
        doc
    }
}

/// Point the derived file at the networks created for `project`, and move
/// the addresses services pin in a fixed subnet to the stack's subnet.
fn place_networks(doc: &mut Value, project: &str, placed: &BTreeMap<String, Subnet>) {
    let mut moved: BTreeMap<&str, (Subnet, Subnet)> = BTreeMap::new();
    if let Some(networks) = doc["networks"].as_object_mut() {
        for (name, &subnet) in placed {
            let Some(config) = networks.get_mut(name) else {
                continue;
            };
            if let Ok(Some(Network {
                fixed: Some(fixed), ..
            })) = Network::of(name, config)
            {
                moved.insert(name, (fixed, subnet));
            }
            *config = json!({ "external": true, "name": network_name(project, name) });
        }
    }
    for config in doc["services"]
        .as_object_mut()
        .into_iter()
        .flatten()
        .map(|(_, c)| c)
    {
        let Some(networks) = config.get_mut("networks").and_then(Value::as_object_mut) else {
            continue;
        };
        for (name, attachment) in networks.iter_mut() {
            let Some(&(from, to)) = moved.get(name.as_str()) else {
                continue;
            };
            let Some(address) = attachment.get_mut("ipv4_address") else {
                continue;
            };
            let mapped = address
                .as_str()
                .and_then(|a| a.parse().ok())
                .and_then(|a| from.map(a, to));
            if let Some(mapped) = mapped {
                *address = json!(mapped.to_string());
            }
        }
    }
}

/// A service's bind mounts as (host path, container path), in either of
/// compose's forms: `SOURCE:TARGET[:MODE]` with an absolute source, or a
/// mapping of `type: bind` with a source and a target (compose config has
/// made host paths absolute).
pub fn bind_mounts(service: &Value) -> Vec<(&str, &str)> {
    let mounts = service.get("volumes").and_then(Value::as_array);
    mounts
        .into_iter()
        .flatten()
        .filter_map(|mount| match mount {
            Value::String(short) => {
                let mut parts = short.split(':');
                let (source, target) = (parts.next()?, parts.next()?);
                source.starts_with('/').then_some((source, target))
            }
            Value::Object(long) if long.get("type")?.as_str()? == "bind" => {
                Some((long.get("source")?.as_str()?, long.get("target")?.as_str()?))
            }
            _ => None,
        })
        .collect()
}

/// The named volume a service's mount uses, in either of compose's forms
/// (`NAME:/path[:mode]`, or a mapping of `type: volume`).
fn volume_of(mount: &Value) -> Option<String> {
    let source = match mount {
        Value::String(short) => short.split(':').next().filter(|_| short.contains(':'))?,
        Value::Object(long) if long.get("type").and_then(Value::as_str) == Some("volume") => {
            long.get("source").and_then(Value::as_str)?
        }
        _ => return None,
    };
    let is_path = source.starts_with(['/', '.', '~']) || source.is_empty();
    (!is_path).then(|| source.to_string())
}

/// Replace published ports by their container side in `expose`.
fn expose_ports(service: &mut Map<String, Value>, ports: &Value) {
    let expose = service.entry("expose").or_insert_with(|| json!([]));
    let Some(expose) = expose.as_array_mut() else {
        return;
    };
    for port in ports.as_array().into_iter().flatten() {
        if let Some(port) = container_port(port) {
            if !expose.contains(&port) {
                expose.push(port);
            }
        }
    }
}

/// The labels stack-run puts on everything it creates.
pub type Labels = Vec<(String, String)>;

/// Add `labels` to a service, build, network or volume config, in either of
/// the forms compose accepts (a mapping or a `KEY=VALUE` list).
pub fn add_labels(config: &mut Value, labels: &Labels) {
    let Some(config) = config.as_object_mut() else {
        return;
    };
    let existing = config.entry("labels").or_insert_with(|| json!({}));
    match existing {
        Value::Array(list) => {
            list.retain(|item| {
                let key = item.as_str().and_then(|s| s.split('=').next());
                !labels.iter().any(|(k, _)| Some(k.as_str()) == key)
            });
            list.extend(labels.iter().map(|(k, v)| json!(format!("{k}={v}"))));
        }
        _ => {
            if !existing.is_object() {
                *existing = json!({});
            }
            let map = existing.as_object_mut().expect("made an object");
            for (key, value) in labels {
                map.insert(key.clone(), json!(value));
            }
        }
    }
}

/// The names a service depends on: `depends_on` (a list or a mapping) and `links`.
fn dependencies(config: &Value) -> Vec<String> {
    let mut names = Vec::new();
    match config.get("depends_on") {
        Some(Value::Array(list)) => {
            names.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
        Some(Value::Object(map)) => names.extend(map.keys().cloned()),
        _ => {}
    }
    for link in config
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = link.as_str().and_then(|l| l.split(':').next()) {
            names.push(name.to_string());
        }
    }
    names
}

fn is_external(config: &Value) -> bool {
    match config.get("external") {
        Some(Value::Bool(external)) => *external,
        Some(Value::Object(_)) => true,
        _ => false,
    }
}

/// The container side of a `ports` entry, as an `expose` entry: `8000:80/udp`
/// gives `80/udp`, `{target: 80}` gives `80`.
fn container_port(port: &Value) -> Option<Value> {
    match port {
        Value::Number(n) => Some(json!(n.to_string())),
        Value::String(text) => {
            let (ports, protocol) = match text.split_once('/') {
                Some((ports, protocol)) => (ports, Some(protocol)),
                None => (text.as_str(), None),
            };
            let target = ports.rsplit(':').next()?;
            Some(json!(with_protocol(target, protocol)))
        }
        Value::Object(map) => {
            let target = match map.get("target")? {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => return None,
            };
            let protocol = map.get("protocol").and_then(Value::as_str);
            Some(json!(with_protocol(&target, protocol)))
        }
        _ => None,
    }
}

fn with_protocol(target: &str, protocol: Option<&str>) -> String {
    match protocol {
        Some(protocol) if protocol != "tcp" => format!("{target}/{protocol}"),
        _ => target.to_string(),
    }
}

/// Compose v1 checks a file against its `version`'s schema, and labels on
/// builds, networks and volumes need the last minor version of each format.
fn labelled_version(version: &Value) -> String {
    let text = match version {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match text.split('.').next() {
        Some("2") => "2.4".into(),
        Some("3") => "3.8".into(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_mounts_are_read_in_either_form() {
        let service = json!({"volumes": [
            "/src:/code:rw",
            {"type": "bind", "source": "/other", "target": "/code/other"},
            {"type": "volume", "source": "data", "target": "/data"},
            "data:/more",
            "/anonymous",
            {"type": "bind", "source": "/no-target"},
        ]});
        assert_eq!(
            bind_mounts(&service),
            [("/src", "/code"), ("/other", "/code/other")]
        );
        assert!(bind_mounts(&json!({})).is_empty());
    }

    /// What docker-compose 1.29 `config` prints for a file with every collision source.
    const CONFIG: &str = r#"networks:
  back:
    name: fixed-net
  shared:
    external: true
services:
  app:
    build:
      context: /src
    container_name: fixed-app
    depends_on:
      db:
        condition: service_healthy
    environment:
      PRICE: $$5
    image: myapp
    labels:
      a: b
    ports:
    - published: 8000
      target: 8000
    - 127.0.0.1:9000:9000/udp
    volumes:
    - /src:/code:rw
  db:
    image: postgres
    links:
    - cache:redis
    networks:
      back: null
      default: null
    ports:
    - 5432:5432/tcp
    volumes:
    - dbdata:/var/lib/postgresql/data:rw
  cache:
    image: redis
    labels:
    - x=y
  unrelated:
    image: nginx
    network_mode: host
version: '3.4'
volumes:
  dbdata:
    name: fixed-vol
"#;

    /// What Compose v2.40 `config` prints for the same file: a `name:`, long
    /// port syntax with published ports as strings, `depends_on` conditions
    /// everywhere, label lists as mappings, the default network named, and
    /// the unused external network left out.
    const CONFIG_V2: &str = r#"name: v2c
services:
  app:
    build:
      context: /src
      dockerfile: Dockerfile
    container_name: fixed-app
    depends_on:
      db:
        condition: service_healthy
        required: true
    environment:
      PRICE: $$5
    image: myapp
    labels:
      a: b
    networks:
      default: null
    ports:
      - mode: ingress
        target: 8000
        published: "8000"
        protocol: tcp
      - mode: ingress
        host_ip: 127.0.0.1
        target: 9000
        published: "9000"
        protocol: udp
    volumes:
      - type: bind
        source: /src
        target: /code
        bind:
          create_host_path: true
  cache:
    image: redis
    labels:
      x: "y"
    networks:
      default: null
  db:
    depends_on:
      cache:
        condition: service_started
        restart: true
        required: true
    image: postgres
    links:
      - cache:redis
    networks:
      back: null
      default: null
    ports:
      - mode: ingress
        target: 5432
        published: "5432"
        protocol: tcp
    volumes:
      - type: volume
        source: dbdata
        target: /var/lib/postgresql/data
        volume: {}
  unrelated:
    image: nginx
    network_mode: host
networks:
  back:
    name: fixed-net
  default:
    name: v2c_default
volumes:
  dbdata:
    name: fixed-vol
"#;

    fn labels() -> Labels {
        vec![("io.shardstack.run".into(), "abc123".into())]
    }

    fn images() -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), "shardstack-abc123-app".to_string())])
    }

    fn shard() -> Value {
        Model::parse(CONFIG).unwrap().shard_file(
            &labels(),
            &images(),
            "app",
            Some(Path::new("/out/shard-2")),
            ("p", &BTreeMap::new()),
        )
    }

    /// Issue 26 item 15: `--collect` made the database's volume and the
    /// sidecars' networks, though it starts neither sidecar.
    #[test]
    fn the_collect_file_holds_the_service_alone() {
        let config = r#"services:
  app:
    image: myapp
    depends_on: [db]
    volumes:
    - scratch:/scratch:rw
    - type: volume
      source: bound
      target: /bound
    - /src:/code:rw
  db:
    image: postgres
    networks: [back]
    volumes:
    - dbdata:/var/lib/postgresql/data:rw
networks:
  back: {}
volumes:
  dbdata: {}
  scratch: {}
  bound:
    driver_opts: {type: none, o: bind, device: /srv}
"#;
        let doc = collect_file_of_app(config);
        let services: Vec<&String> = doc["services"].as_object().unwrap().keys().collect();
        assert_eq!(services, ["app"]);
        let app = &doc["services"]["app"];
        assert_eq!(app.get("depends_on"), None);
        assert_eq!(app["volumes"].as_array().unwrap().len(), 3);
        assert_eq!(app["volumes"][2], json!("/src:/code:rw"));
        let volumes: Vec<&String> = doc["volumes"].as_object().unwrap().keys().collect();
        assert_eq!(volumes, ["bound", "scratch"]);
        let networks: Vec<&String> = doc["networks"].as_object().unwrap().keys().collect();
        assert_eq!(networks, ["default"]);
    }

    /// The collect file of CONFIG's service `app`, labelled, in project `p`.
    fn collect_file_of_app(config: &str) -> Value {
        let model = Model::parse(config).unwrap();
        model.collect_file(&labels(), &BTreeMap::new(), "app", ("p", &BTreeMap::new()))
    }

    /// Regression: the collect file dropped the service's own plain named
    /// volumes, and with them the `venv:/code/.venv` under a `.:/code` bind
    /// mount: the command saw the host's folder there, not the image's
    /// files. The service's volume stays, labelled; the sidecar's does not.
    #[test]
    fn the_collect_file_keeps_the_services_own_named_volume() {
        let config = r#"services:
  app:
    image: myapp
    depends_on: [db]
    volumes:
    - /src:/code:rw
    - venv:/code/.venv:rw
  db:
    image: postgres
    volumes:
    - dbdata:/var/lib/postgresql/data:rw
volumes:
  dbdata: {}
  venv: {}
"#;
        let doc = collect_file_of_app(config);
        let mounts = doc["services"]["app"]["volumes"].as_array().unwrap();
        assert_eq!(mounts[1], json!("venv:/code/.venv:rw"));
        let volumes: Vec<&String> = doc["volumes"].as_object().unwrap().keys().collect();
        assert_eq!(volumes, ["venv"]);
        assert_eq!(
            doc["volumes"]["venv"]["labels"]["io.shardstack.run"],
            json!("abc123")
        );
    }

    #[test]
    fn sidecars_are_transitive_dependencies() {
        let model = Model::parse(CONFIG).unwrap();
        assert_eq!(model.sidecars("app").unwrap(), ["cache", "db"]);
        assert_eq!(model.sidecars("unrelated").unwrap(), Vec::<String>::new());
        let err = model.sidecars("web").unwrap_err().to_string();
        assert_eq!(
            err,
            "the compose file has no service \"web\" (it has: app, cache, db, unrelated)"
        );
    }

    #[test]
    fn collision_sources_are_dropped() {
        for config in [CONFIG, CONFIG_V2] {
            let doc = Model::parse(config).unwrap().shard_file(
                &labels(),
                &images(),
                "app",
                Some(Path::new("/out/shard-2")),
                ("p", &BTreeMap::new()),
            );
            let app = &doc["services"]["app"];
            assert_eq!(app.get("container_name"), None);
            assert_eq!(app.get("ports"), None);
            assert_eq!(app["expose"], json!(["8000", "9000/udp"]));
            assert_eq!(doc["services"]["db"]["expose"], json!(["5432"]));
            assert_eq!(doc["networks"]["back"].get("name"), None);
            assert_eq!(doc["networks"]["default"].get("name"), None);
            assert_eq!(doc["volumes"]["dbdata"].get("name"), None);
            // `-p` names the project, not v2's `name:`.
            assert_eq!(doc.get("name"), None);
        }
    }

    #[test]
    fn everything_created_is_labelled() {
        let doc = shard();
        let label = json!("abc123");
        assert_eq!(doc["services"]["app"]["labels"]["io.shardstack.run"], label);
        assert_eq!(doc["services"]["app"]["labels"]["a"], json!("b"));
        assert_eq!(
            doc["services"]["cache"]["labels"],
            json!(["x=y", "io.shardstack.run=abc123"])
        );
        assert_eq!(
            doc["networks"]["default"]["labels"]["io.shardstack.run"],
            label
        );
        assert_eq!(
            doc["networks"]["back"]["labels"]["io.shardstack.run"],
            label
        );
        assert_eq!(
            doc["volumes"]["dbdata"]["labels"]["io.shardstack.run"],
            label
        );
        assert_eq!(doc["networks"]["shared"], json!({"external": true}));
        assert_eq!(doc["version"], json!("3.8"));
    }

    #[test]
    fn compose_v2_output_is_labelled_alike() {
        let model = Model::parse(CONFIG_V2).unwrap();
        assert_eq!(model.sidecars("app").unwrap(), ["cache", "db"]);
        let doc = model.shard_file(
            &labels(),
            &images(),
            "app",
            Some(Path::new("/out/shard-2")),
            ("p", &BTreeMap::new()),
        );
        assert_eq!(
            doc["services"]["cache"]["labels"],
            json!({"x": "y", "io.shardstack.run": "abc123"})
        );
        assert_eq!(doc.get("version"), None);
    }

    #[test]
    fn shard_uses_the_built_image_and_mounts_its_folder() {
        let doc = shard();
        let app = &doc["services"]["app"];
        assert_eq!(app.get("build"), None);
        assert_eq!(app["image"], json!("shardstack-abc123-app"));
        assert_eq!(
            app["volumes"],
            json!([
                "/src:/code:rw",
                {"type": "bind", "source": "/out/shard-2", "target": "/shardstack/out"}
            ])
        );
        // Escaped dollars stay escaped: compose reads the derived file again.
        assert_eq!(app["environment"]["PRICE"], json!("$$5"));
    }

    #[test]
    fn build_file_tags_and_labels_the_build() {
        let doc = Model::parse(CONFIG)
            .unwrap()
            .build_file(&labels(), &images());
        let app = &doc["services"]["app"];
        assert_eq!(app["image"], json!("shardstack-abc123-app"));
        assert_eq!(app["build"]["context"], json!("/src"));
        assert_eq!(app["build"]["labels"]["io.shardstack.run"], json!("abc123"));
    }

    #[test]
    fn warns_about_what_cannot_be_isolated() {
        let model = Model::parse(CONFIG).unwrap();
        assert_eq!(
            model.warnings(),
            [
                "networks \"shared\" is external: every shard shares it",
                "service \"unrelated\" uses the host network: its ports are shared by every shard"
            ]
        );
    }

    #[test]
    fn placed_networks_are_external_and_pinned_addresses_move_with_them() {
        let config = r#"services:
  app:
    image: app
    networks:
      legacy:
        ipv4_address: 10.231.77.10
      default: null
networks:
  legacy:
    ipam:
      config:
      - subnet: 10.231.77.0/24
"#;
        let model = Model::parse(config).unwrap();
        let managed: Vec<String> = model
            .managed_networks()
            .unwrap()
            .into_iter()
            .map(|(network, _)| network.name)
            .collect();
        assert_eq!(managed, ["default", "legacy"]);
        let placed = BTreeMap::from([
            ("default".to_string(), "10.213.4.0/24".parse().unwrap()),
            ("legacy".to_string(), "10.213.9.0/24".parse().unwrap()),
        ]);
        let doc = model.shard_file(&labels(), &BTreeMap::new(), "app", None, ("p-s1", &placed));
        assert_eq!(
            doc["networks"]["legacy"],
            json!({"external": true, "name": "p-s1_legacy"})
        );
        assert_eq!(
            doc["networks"]["default"],
            json!({"external": true, "name": "p-s1_default"})
        );
        assert_eq!(
            doc["services"]["app"]["networks"]["legacy"]["ipv4_address"],
            json!("10.213.9.10")
        );
    }
}
