import Foundation

struct SimResponse {
    var status: Int
    var headers: [(String, String)] = []
    var body: Data
}

/// REST 2.x routes of the simulator.
extension SimState {
    func json(_ status: Int, _ obj: Any, headers: [(String, String)] = []) -> SimResponse {
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        return SimResponse(status: status, headers: headers, body: data)
    }
    func error(_ status: Int, _ message: String, context: String? = nil) -> SimResponse {
        var e: [String: Any] = ["message": message]
        if let context { e["context"] = context }
        return json(status, ["errors": [e]])
    }
    func list(_ items: [[String: Any]]) -> SimResponse {
        json(200, ["items": items, "total_item_count": items.count, "more_items_remaining": false, "continuation_token": NSNull()])
    }
    func items(_ items: [[String: Any]]) -> SimResponse { json(200, ["items": items]) }

    func handle(method: String, uri: String, headers: [(String, String)], body: Data) -> SimResponse {
        lock.lock(); defer { lock.unlock() }
        let (path, query) = splitURI(uri)
        requestLog.append("\(method) \(path)" + (query["filter"].map { " filter=\($0)" } ?? ""))
        let r = route(method: method, path: path, query: query, headers: headers, body: body)
        let agent = headers.first { $0.0.lowercased() == "user-agent" }?.1 ?? ""
        if !path.hasPrefix("/sim/") { responseLog.append("\(r.status) \(method) \(path)\t\(agent)") }
        if opt.logRequests {
            FileHandle.standardError.write(Data("fa-sim: \(r.status) \(method) \(uri.removingPercentEncoding ?? uri)\n".utf8))
        }
        return r
    }

    private func route(method: String, path: String, query: [String: String], headers: [(String, String)], body: Data) -> SimResponse {
        func header(_ n: String) -> String? { headers.first { $0.0.lowercased() == n }?.1 }

        if path.hasPrefix("/sim/") { return simHook(method, path, query) }
        if injectCount > 0, path != "/api/api_version" {
            injectCount -= 1
            return error(injectStatus, "injected failure (simulator)")
        }
        if path == "/api/api_version", method == "GET" { return json(200, ["version": opt.versions]) }

        let comps = path.split(separator: "/").map(String.init)
        guard comps.count >= 3, comps[0] == "api", opt.versions.contains(comps[1]) else {
            return error(404, "The requested resource does not exist.")
        }
        let resource = comps[2...].joined(separator: "/")
        if resource == "login", method == "POST" {
            guard let tok = header("api-token"), !opt.apiToken.isEmpty, tok == opt.apiToken else {
                return error(401, "Invalid API token.")
            }
            let s = UUID().uuidString.lowercased()
            sessions.insert(s)
            return json(200, ["items": [["username": "pureuser"]]], headers: [("x-auth-token", s)])
        }
        if resource == "logout", method == "POST" {
            if let s = header("x-auth-token") { sessions.remove(s) }
            return json(200, [String: Any]())
        }
        guard let s = header("x-auth-token"), sessions.contains(s) else {
            return error(401, "Authentication failed: session expired or invalid. Check time synchronization.")
        }
        var bodyObj: Any? = nil
        if !body.isEmpty {
            guard let o = try? JSONSerialization.jsonObject(with: body) else { return error(400, "Malformed JSON body.") }
            bodyObj = o
        }
        switch (method, resource) {
        case ("GET", "arrays"):
            return list([["id": opt.arrayID, "name": opt.arrayName, "capacity": opt.capacity, "os": "Purity//FA", "version": "6.5.8",
                          "parity": 1.0, "space": spaceJSON(), "console_lock_enabled": false, "idle_timeout": 0, "scsi_timeout": 60,
                          "ntp_servers": [String](), "_as_of": nowMS()]])
        case ("GET", "arrays/space"):
            return list([["id": opt.arrayID, "name": opt.arrayName, "capacity": opt.capacity, "parity": 1.0, "space": spaceJSON(), "time": nowMS()]])
        case ("GET", "controllers"):
            let all: [[String: Any]] = controllersReady.keys.sorted().map { n in
                ["name": n, "mode": n == "CT0" ? "primary" : "secondary", "model": "FA-X70R3", "status": controllersReady[n]!,
                 "type": "array_controller", "version": "6.5.8", "mode_since": nowMS()]
            }
            return filtered(all, query["filter"]).map(list) ?? error(400, "Unsupported filter.")
        case ("GET", "ports"):
            var ports = portsJSON()
            if let n = query["names"] { let set = Set(n.split(separator: ",").map(String.init)); ports = ports.filter { set.contains($0["name"] as! String) } }
            return filtered(ports, query["filter"]).map(list) ?? error(400, "Unsupported filter.")
        case ("GET", "network-interfaces"):
            return filtered(interfacesJSON(), query["filter"]).map(list) ?? error(400, "Unsupported filter.")
        case ("GET", "hosts"):
            var hs = hosts
            if let n = query["names"] {
                let names = n.split(separator: ",").map(String.init)
                for name in names where !hosts.contains(where: { $0.name == name }) { return error(400, "Host does not exist.", context: name) }
                hs = hs.filter { names.contains($0.name) }
            }
            return filtered(hs.map(hostJSON), query["filter"]).map(list) ?? error(400, "Unsupported filter.")
        case ("POST", "hosts"):
            guard let name = query["names"], !name.contains(",") else { return error(400, "names is required.") }
            if hosts.contains(where: { $0.name == name }) { return error(400, "Host already exists.", context: name) }
            let b = bodyObj as? [String: Any] ?? [:]
            var h = HostObj(name: name)
            h.iqns = b["iqns"] as? [String] ?? []
            guard let wwns = normWWNs(b["wwns"] as? [String] ?? []) else { return error(400, "Invalid WWN.", context: name) }
            h.wwns = wwns ?? []
            for i in h.iqns where hosts.contains(where: { $0.iqns.contains(i) }) { return error(400, "The specified IQN is already in use.", context: name) }
            for w in h.wwns where hosts.contains(where: { $0.wwns.contains(w) }) { return error(400, "The specified WWN is already in use.", context: name) }
            h.personality = b["personality"] as? String
            applyChap(&h, b["chap"] as? [String: Any])
            hosts.append(h)
            opt.tgt?.allow(initiators: h.iqns, chap: h.chapHostUser.flatMap { u in h.chapHostPassword.map { (u, $0) } })
            return items([hostJSON(h)])
        case ("PATCH", "hosts"):
            guard let name = query["names"], let i = hosts.firstIndex(where: { $0.name == name }) else { return error(400, "Host does not exist.", context: query["names"]) }
            let b = bodyObj as? [String: Any] ?? [:]
            if let p = b["personality"] as? String { hosts[i].personality = p }
            if let add = b["add_iqns"] as? [String] { hosts[i].iqns += add }
            guard let addWWNs = normWWNs(b["add_wwns"] as? [String]), let setWWNs = normWWNs(b["wwns"] as? [String]),
                  let removeWWNs = normWWNs(b["remove_wwns"] as? [String]) else { return error(400, "Invalid WWN.", context: name) }
            for w in (addWWNs ?? []) + (setWWNs ?? []) where hosts.contains(where: { $0.name != name && $0.wwns.contains(w) }) {
                return error(400, "The specified WWN is already in use.", context: name)
            }
            if let add = addWWNs { hosts[i].wwns += add.filter { !hosts[i].wwns.contains($0) } }
            if let set = setWWNs { hosts[i].wwns = set }
            if let remove = removeWWNs { hosts[i].wwns.removeAll { remove.contains($0) } }
            if let iq = b["iqns"] as? [String] { hosts[i].iqns = iq }
            if let remove = b["remove_iqns"] as? [String] { hosts[i].iqns.removeAll { remove.contains($0) } }
            applyChap(&hosts[i], b["chap"] as? [String: Any])
            let h = hosts[i]
            opt.tgt?.allow(initiators: h.iqns, chap: h.chapHostUser.flatMap { u in h.chapHostPassword.map { (u, $0) } })
            return items([hostJSON(h)])
        case ("DELETE", "hosts"):
            guard let name = query["names"], let i = hosts.firstIndex(where: { $0.name == name }) else { return error(400, "Host does not exist.", context: query["names"]) }
            if conns.contains(where: { $0.host == name }) { return error(400, "Host cannot be deleted due to existing connections.", context: name) }
            hosts.remove(at: i)
            return json(200, [String: Any]())
        case ("GET", "hosts/tags"):
            let ns = query["namespaces"].map { Set($0.split(separator: ",").map(String.init)) }
            let names = query["resource_names"].map { Set($0.split(separator: ",").map(String.init)) }
            var out: [[String: Any]] = []
            for h in hosts where names?.contains(h.name) ?? true {
                for (n, kv) in h.tags.sorted(by: { $0.key < $1.key }) where ns?.contains(n) ?? true {
                    for (k, v) in kv.sorted(by: { $0.key < $1.key }) {
                        out.append(["namespace": n, "key": k, "value": v, "copyable": false, "resource": ["name": h.name]])
                    }
                }
            }
            return list(out)
        case ("PUT", "hosts/tags/batch"):
            guard let name = query["resource_names"], let i = hosts.firstIndex(where: { $0.name == name }) else { return error(400, "Host does not exist.", context: query["resource_names"]) }
            guard let tags = bodyObj as? [[String: Any]], !tags.isEmpty, tags.count <= 30 else { return error(400, "Between 1 and 30 tags are required.") }
            var out: [[String: Any]] = []
            for t in tags {
                guard let k = t["key"] as? String, let v = t["value"] as? String, k.count <= 64, v.count <= 256 else {
                    return error(400, "Tag key (64) or value (256) missing or too long.")
                }
                let n = t["namespace"] as? String ?? "default"
                hosts[i].tags[n, default: [:]][k] = v
                out.append(["namespace": n, "key": k, "value": v, "copyable": false, "resource": ["name": name]])
            }
            return items(out)
        case ("DELETE", "hosts/tags"):
            guard let name = query["resource_names"], let i = hosts.firstIndex(where: { $0.name == name }) else { return error(400, "Host does not exist.") }
            let keys = query["keys"].map { Set($0.split(separator: ",").map(String.init)) }
            for n in hosts[i].tags.keys where query["namespaces"].map({ $0.split(separator: ",").map(String.init).contains(n) }) ?? true {
                hosts[i].tags[n] = hosts[i].tags[n]!.filter { !(keys?.contains($0.key) ?? true) }
            }
            return json(200, [String: Any]())
        case ("GET", "volumes"):
            var vs = volumes
            if let n = query["names"] {
                let names = n.split(separator: ",").map(String.init)
                for name in names where !volumes.contains(where: { $0.name == name }) { return error(400, "Volume does not exist.", context: name) }
                vs = vs.filter { names.contains($0.name) }
            }
            if query["destroyed"] == "false" { vs = vs.filter { !$0.destroyed } }
            return filtered(vs.map(volumeJSON), query["filter"]).map(list) ?? error(400, "Unsupported filter.")
        case ("POST", "volumes"):
            guard let name = query["names"], !name.contains(",") else { return error(400, "names is required.") }
            if volumes.contains(where: { $0.name == name }) { return error(400, "Volume already exists.", context: name) }
            guard let b = bodyObj as? [String: Any], let prov = (b["provisioned"] as? NSNumber)?.int64Value, prov > 0 else {
                return error(400, "provisioned is required.", context: name)
            }
            guard prov % 512 == 0 else { return error(400, "Volume size must be a multiple of 512 bytes.", context: name) }
            let v = Volume(id: UUID().uuidString.lowercased(), name: name, serial: newSerial(), provisioned: prov, created: nowMS())
            if let t = opt.tgt, t.enabled, !t.createBacking(serial: v.serial, bytes: prov) { return error(500, "Backing store could not be created.", context: name) }
            volumes.append(v)
            return items([volumeJSON(v)])
        case ("PATCH", "volumes"):
            guard let name = query["names"], let i = volumes.firstIndex(where: { $0.name == name }) else { return error(400, "Volume does not exist.", context: query["names"]) }
            let b = bodyObj as? [String: Any] ?? [:]
            if let prov = (b["provisioned"] as? NSNumber)?.int64Value {
                guard prov >= volumes[i].provisioned else { return error(400, "Implicit truncation is not permitted.", context: name) }
                volumes[i].provisioned = prov
                opt.tgt?.resize(serial: volumes[i].serial, bytes: prov)
            }
            if let d = b["destroyed"] as? Bool {
                if d, conns.contains(where: { $0.volume == name }) {
                    return error(400, "Volume cannot be destroyed while it has host connections.", context: name)
                }
                volumes[i].destroyed = d
                volumes[i].destroyedAt = d ? nowMS() : nil
            }
            return items([volumeJSON(volumes[i])])
        case ("DELETE", "volumes"):
            guard let name = query["names"], let i = volumes.firstIndex(where: { $0.name == name }) else { return error(400, "Volume does not exist.", context: query["names"]) }
            guard volumes[i].destroyed else { return error(400, "Volume must be destroyed before it can be eradicated.", context: name) }
            opt.tgt?.removeBacking(serial: volumes[i].serial)
            volumes.remove(at: i)
            return json(200, [String: Any]())
        case ("GET", "connections"):
            var cs = conns
            if let h = query["host_names"] { let s = Set(h.split(separator: ",").map(String.init)); cs = cs.filter { s.contains($0.host) } }
            if let v = query["volume_names"] { let s = Set(v.split(separator: ",").map(String.init)); cs = cs.filter { s.contains($0.volume) } }
            return list(cs.map(connJSON))
        case ("POST", "connections"):
            guard let h = query["host_names"], let vn = query["volume_names"] else { return error(400, "host_names and volume_names are required.") }
            guard let host = hosts.first(where: { $0.name == h }) else { return error(400, "Host does not exist.", context: h) }
            guard let v = volumes.first(where: { $0.name == vn }), !v.destroyed else { return error(400, "Volume does not exist.", context: vn) }
            if conns.contains(where: { $0.host == h && $0.volume == vn }) { return error(400, "Connection already exists.", context: vn) }
            var lun = (bodyObj as? [String: Any])?["lun"] as? Int ?? 0
            if lun == 0 {
                let used = Set(conns.filter { $0.host == h }.map(\.lun))
                lun = 1
                while used.contains(lun) { lun += 1 }
            }
            if let t = opt.tgt, t.enabled, !t.bind(serial: v.serial, lun: lun, initiators: host.iqns) {
                return error(500, "Could not export the volume on the data path.", context: vn)
            }
            let c = Conn(host: h, volume: vn, lun: lun)
            conns.append(c)
            return items([connJSON(c)])
        case ("DELETE", "connections"):
            guard let h = query["host_names"], let vn = query["volume_names"] else { return error(400, "host_names and volume_names are required.") }
            guard let i = conns.firstIndex(where: { $0.host == h && $0.volume == vn }) else { return error(400, "Volume is not connected to host.", context: vn) }
            let c = conns.remove(at: i)
            if let t = opt.tgt, t.enabled, !conns.contains(where: { $0.lun == c.lun && $0.volume == c.volume }) { t.unbind(lun: c.lun) }
            return json(200, [String: Any]())
        case ("GET", "volumes/tags"):
            let ns = query["namespaces"].map { Set($0.split(separator: ",").map(String.init)) }
            let names = query["resource_names"].map { $0.split(separator: ",").map(String.init) } ?? []
            for n in names where !volumes.contains(where: { $0.name == n }) { return error(400, "Volume does not exist.", context: n) }
            var out: [[String: Any]] = []
            for v in volumes where names.isEmpty || names.contains(v.name) {
                for (n, kv) in v.tags.sorted(by: { $0.key < $1.key }) where ns?.contains(n) ?? true {
                    for (k, t) in kv.sorted(by: { $0.key < $1.key }) { out.append(volumeTagJSON(v, n, k, t)) }
                }
            }
            return list(out)
        case ("PUT", "volumes/tags/batch"):
            guard let name = query["resource_names"], let i = volumes.firstIndex(where: { $0.name == name }) else {
                return error(400, "Volume does not exist.", context: query["resource_names"])
            }
            guard let tags = bodyObj as? [[String: Any]], !tags.isEmpty, tags.count <= 30 else { return error(400, "Between 1 and 30 tags are required.") }
            var parsed: [(String, String, TagValue)] = []
            for t in tags {
                guard let k = t["key"] as? String, let v = t["value"] as? String, !k.isEmpty, k.count <= 64, v.count <= 256 else {
                    return error(400, "Tag key (64) or value (256) missing or too long.", context: name)
                }
                parsed.append((t["namespace"] as? String ?? "default", k, TagValue(value: v, copyable: t["copyable"] as? Bool ?? true)))
            }
            for (n, k, t) in parsed { volumes[i].tags[n, default: [:]][k] = t }
            return items(parsed.map { volumeTagJSON(volumes[i], $0.0, $0.1, $0.2) })
        case ("DELETE", "volumes/tags"):
            guard let name = query["resource_names"], let i = volumes.firstIndex(where: { $0.name == name }) else {
                return error(400, "Volume does not exist.", context: query["resource_names"])
            }
            let keys = query["keys"].map { Set($0.split(separator: ",").map(String.init)) }
            let ns = query["namespaces"].map { Set($0.split(separator: ",").map(String.init)) }
            for n in volumes[i].tags.keys where ns?.contains(n) ?? true {
                volumes[i].tags[n] = volumes[i].tags[n]!.filter { !(keys?.contains($0.key) ?? true) }
            }
            return json(200, [String: Any]())
        case ("GET", "arrays/performance"):
            return arrayPerformance(query)
        case ("GET", "array-connections"):
            return list([])             // the simulated array is connected to no other array
        case ("GET", "protection-groups"), ("GET", "protection-groups/volumes"), ("GET", "volume-snapshots"):
            // the simulator has no protection groups and no snapshots: an honest empty answer
            if resource == "volume-snapshots", let n = query["names"]?.split(separator: ",").first { return error(400, "No such volume or snapshot.", context: String(n)) }
            if resource == "protection-groups", let n = query["names"]?.split(separator: ",").first { return error(400, "Protection group does not exist.", context: String(n)) }
            return list([])
        default:
            if Self.resources.contains(resource) {
                return error(405, "The requested operation is not supported by the simulator: \(method) \(resource).")
            }
            return error(404, "The requested resource does not exist.", context: resource)
        }
    }

    /// Every resource the simulator serves (some method of): another method on one of these
    /// is 405, any other path 404 as the array answers for a resource it does not have.
    static let resources: Set<String> = [
        "login", "logout", "arrays", "arrays/space", "arrays/performance", "array-connections", "controllers", "ports",
        "network-interfaces", "hosts", "hosts/tags", "hosts/tags/batch", "volumes", "volumes/tags", "volumes/tags/batch",
        "connections", "protection-groups", "protection-groups/volumes", "volume-snapshots",
    ]

    func volumeTagJSON(_ v: Volume, _ namespace: String, _ key: String, _ t: TagValue) -> [String: Any] {
        ["namespace": namespace, "key": key, "value": t.value, "copyable": t.copyable, "resource": ["id": v.id, "name": v.name]]
    }

    /// `GET arrays/performance`: one sample per `resolution` from `start_time` (not before the
    /// simulator came up) to `end_time`, or the latest one without a range. The simulator
    /// counts no I/O, so every rate and latency is 0.
    func arrayPerformance(_ q: [String: String]) -> SimResponse {
        let now = nowMS()
        let resolution = Int64(q["resolution"] ?? "30000") ?? -1
        guard resolution > 0 else { return error(400, "Invalid resolution.", context: q["resolution"]) }
        var times: [Int64] = [now]
        if let s = q["start_time"] {
            guard let start = Int64(s), let end = Int64(q["end_time"] ?? "\(now)"), start <= end else {
                return error(400, "Invalid start_time or end_time.")
            }
            let first = max(start, startedAt / resolution * resolution)
            times = first > min(end, now) ? [] : Array(stride(from: first, through: min(end, now), by: Int64.Stride(resolution)))
        }
        let zero: Int64 = 0
        let keys = ["bytes_per_mirrored_write", "bytes_per_op", "bytes_per_read", "bytes_per_write", "mirrored_write_bytes_per_sec",
                    "mirrored_writes_per_sec", "qos_rate_limit_usec_per_mirrored_write_op", "qos_rate_limit_usec_per_read_op",
                    "qos_rate_limit_usec_per_write_op", "queue_usec_per_mirrored_write_op", "queue_usec_per_read_op",
                    "queue_usec_per_write_op", "read_bytes_per_sec", "reads_per_sec", "san_usec_per_mirrored_write_op",
                    "san_usec_per_read_op", "san_usec_per_write_op", "service_usec_per_mirrored_write_op", "service_usec_per_read_op",
                    "service_usec_per_write_op", "usec_per_mirrored_write_op", "usec_per_read_op", "usec_per_write_op",
                    "write_bytes_per_sec", "writes_per_sec", "others_per_sec", "usec_per_other_op", "queue_depth", "local_queue_usec_per_op"]
        return list(times.map { t in
            var d: [String: Any] = ["id": opt.arrayID, "name": opt.arrayName, "time": t]
            for k in keys { d[k] = zero }
            return d
        })
    }

    func applyChap(_ h: inout HostObj, _ c: [String: Any]?) {
        guard let c else { return }
        if let u = c["host_user"] as? String { h.chapHostUser = u }
        if let p = c["host_password"] as? String { h.chapHostPassword = p }
        if let u = c["target_user"] as? String { h.chapTargetUser = u }
        if let p = c["target_password"] as? String { h.chapTargetPassword = p }
    }

    /// A host WWN as a FlashArray keeps it: 16 upper-case hex digits, no colons (the form the
    /// Cinder driver filters for, `wwns='21000024FF7F3E00'`); given with or without colons, in
    /// either case. nil when it is no WWN.
    func normWWN(_ w: String) -> String? {
        let p = w.uppercased().filter { $0 != ":" }
        return p.count == 16 && p.allSatisfy(\.isHexDigit) ? p : nil
    }
    func normWWNs(_ ws: [String]?) -> [String]?? {
        guard let ws else { return .some(nil) }
        let n = ws.compactMap(normWWN)
        return n.count == ws.count ? .some(n) : nil
    }

    /// The filter subset the data path uses: `a='v'` (list fields match by membership, `*`
    /// wildcard at the end), joined by ` and `, plus `is_local` / `not is_local`.
    func filtered(_ items: [[String: Any]], _ filter: String?) -> [[String: Any]]? {
        guard let filter, !filter.isEmpty else { return items }
        var preds: [([String: Any]) -> Bool] = []
        for term in filter.components(separatedBy: " and ") {
            let alternatives = term.components(separatedBy: " or ")
            if alternatives.count > 1 {
                let subs = alternatives.map { filtered(items, $0) }
                if subs.contains(where: { $0 == nil }) { return nil }
                let names = Set(subs.flatMap { $0! }.compactMap { $0["name"] as? String })
                preds.append { names.contains($0["name"] as? String ?? "") }
                continue
            }
            let t = term.trimmingCharacters(in: .whitespaces)
            if t == "is_local" { preds.append { ($0["is_local"] as? Bool) ?? true }; continue }
            if t == "not is_local" { preds.append { !(($0["is_local"] as? Bool) ?? true) }; continue }
            guard let eq = t.firstIndex(of: "=") else { return nil }
            let key = String(t[..<eq]).trimmingCharacters(in: .whitespaces)
            var val = String(t[t.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            guard val.hasPrefix("'"), val.hasSuffix("'"), val.count >= 2 else { return nil }
            val = String(val.dropFirst().dropLast())
            let path = key.split(separator: ".").map(String.init)
            let wwnKey = key == "wwns" || key.hasSuffix(".wwn") || key == "wwn"
            let matches: (String) -> Bool = val.hasSuffix("*")
                ? { s in s.lowercased().hasPrefix(val.dropLast().lowercased()) }
                : wwnKey ? { [v = val.lowercased().filter { $0 != ":" }] s in s.lowercased().filter { $0 != ":" } == v }
                : { s in s.lowercased() == val.lowercased() }
            preds.append { item in
                var cur: Any? = item
                for p in path { cur = (cur as? [String: Any])?[p] }
                if let s = cur as? String { return matches(s) }
                if let a = cur as? [String] { return a.contains(where: matches) }
                if let b = cur as? Bool { return matches(b ? "true" : "false") }
                return false
            }
        }
        return items.filter { i in preds.allSatisfy { $0(i) } }
    }

    /// Test hooks (not part of the REST API).
    func simHook(_ method: String, _ path: String, _ q: [String: String]) -> SimResponse {
        switch path {
        case "/sim/expire-sessions":
            sessions.removeAll()
            return json(200, ["ok": true])
        case "/sim/inject":
            injectStatus = Int(q["status"] ?? "503") ?? 503
            injectCount = Int(q["count"] ?? "1") ?? 1
            return json(200, ["ok": true])
        case "/sim/controller":
            guard let n = q["name"], controllersReady[n] != nil else { return error(400, "unknown controller") }
            controllersReady[n] = q["status"] ?? "ready"
            return json(200, ["ok": true])
        case "/sim/port-connectivity":
            guard let n = q["host"], let i = hosts.firstIndex(where: { $0.name == n }) else { return error(400, "unknown host") }
            hosts[i].connectivity = q["status"].map { (q["details"] ?? "", $0) }
            return json(200, ["ok": true])
        case "/sim/host-chap":
            // what the REST API masks: the CHAP credentials stored on a host, for tests to compare
            guard let n = q["name"], let h = hosts.first(where: { $0.name == n }) else { return error(400, "unknown host") }
            func v(_ s: String?) -> Any { s.map { $0 as Any } ?? NSNull() }
            return json(200, ["host_user": v(h.chapHostUser), "host_password": v(h.chapHostPassword),
                              "target_user": v(h.chapTargetUser), "target_password": v(h.chapTargetPassword)])
        case "/sim/requests":
            return json(200, ["requests": requestLog, "responses": responseLog])
        default:
            return error(404, "unknown simulator hook")
        }
    }

    func splitURI(_ uri: String) -> (String, [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var out: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let k = kv[0].removingPercentEncoding ?? kv[0]
            let v = kv.count > 1 ? (kv[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? kv[1]) : ""
            out[k] = v
        }
        return (String(uri[..<q]), out)
    }
}
