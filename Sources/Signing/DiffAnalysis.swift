import Foundation
import PDF

// Difference analysis: what an incremental update changed after a signature, and whether each change is
// allowed. The shape follows pyHanko's `sign/diff_analysis` (the reference implementation for this): every
// object a later revision writes must be *explained* by a rule; a rule looks at the signed revision and
// the later one and returns the references it allows, each with a modification level and the place
// (usage) through which it allows it. An object that existed when the document was signed is explained
// only when every place that used it in the signed revision is accounted for — so an exemption follows
// how an object was *used* (the catalog's /Metadata, the catalog's /DSS, a field's widget), never what
// the object's own dictionary claims to be. Anything left unexplained is a change of level `other`.

/// A change the rules cannot justify: the revision is not an allowed modification.
struct SuspiciousModification: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// One step of a path inside an object: a dictionary key or an array index.
enum PathStep: Hashable, CustomStringConvertible {
    case key(PDFName)
    case index(Int)
    var description: String {
        switch self {
        case .key(let k): return "/" + k.string
        case .index(let i): return "[\(i)]"
        }
    }
}

/// The place where a reference is written: inside the trailer or inside an indirect object, at a path
/// of direct objects (pyHanko's `RelativeContext`).
struct Usage: Hashable, CustomStringConvertible {
    enum Anchor: Hashable { case trailer, object(ObjectRef) }
    var anchor: Anchor
    var path: [PathStep]
    var description: String {
        let a: String
        switch anchor {
        case .trailer: a = "trailer"
        case .object(let r): a = "object \(r.number)"
        }
        return a + path.map(\.description).joined()
    }
    var lastKey: PDFName? {
        for s in path.reversed() { if case .key(let k) = s { return k } }
        return nil
    }
}

/// A reference a rule allows, and through which of its usages in the signed revision.
struct RefUpdate {
    var ref: ObjectRef
    /// The usage approved; nil approves every usage (only for objects that cannot be used elsewhere).
    var usage: Usage?
    /// Fully qualified name of the form field this update belongs to.
    var field: String? = nil
    /// Allowed even when the field is locked (FieldMDP).
    var validWhenLocked = false
    /// Allowed after a certification signature (false for a new visible signature field: pyHanko's
    /// `allow_new_visible_after_certify` default).
    var validWhenCertifying = true
}

/// What a rule found: references allowed at a level, and plain-language notes for the report.
struct RuleOutcome {
    var updates: [(ModificationLevel, RefUpdate)] = []
    var notes: [(ModificationLevel, String)] = []
    mutating func allow(_ level: ModificationLevel, _ u: RefUpdate) { updates.append((level, u)) }
    mutating func allow(_ level: ModificationLevel, _ refs: some Sequence<ObjectRef>, usage: Usage? = nil, field: String? = nil) {
        for r in refs { updates.append((level, RefUpdate(ref: r, usage: usage, field: field))) }
    }
    mutating func note(_ level: ModificationLevel, _ text: String) { notes.append((level, text)) }
    mutating func merge(_ o: RuleOutcome) { updates += o.updates; notes += o.notes }
}

/// A rule of the difference analysis (pyHanko's `QualifiedWhitelistRule`): looks at the signed revision
/// and a later one, returns what it allows, or throws `SuspiciousModification`.
protocol DiffRule: Sendable {
    func apply(_ c: DiffContext) throws -> RuleOutcome
}

/// One revision of the file: the file cut at the end of that revision.
struct RevisionView {
    let doc: PDFDocument
    /// 0-based revision index.
    let index: Int

    var trailer: PDFDictionary { doc.trailer }
    var rootRef: ObjectRef? { doc.trailer["Root"]?.referenceValue }
    var root: PDFDictionary { doc.catalog }

    func resolve(_ o: PDFObject) -> PDFObject { doc.resolve(o) }
    func resolve(_ r: ObjectRef) -> PDFObject { doc.resolve(r) }
    /// The reference names an object of this revision (number and generation in use).
    func inUse(_ r: ObjectRef) -> Bool { doc.generationInUse(r.number) == r.generation }
}

/// Everything a rule needs: both revisions, the objects written since the signature, and the usages of
/// the signed revision's objects.
final class DiffContext {
    let old: RevisionView
    let new: RevisionView
    /// The revision just before `new` (`old` itself when `new` is the first revision after the signature):
    /// what the update under review started from.
    let prev: RevisionView
    /// References first defined after the signed revision, up to and including `new` (pyHanko's
    /// `collect_dependencies(since_revision=old+1)` set).
    let fresh: Set<ObjectRef>
    /// Objects written by the revision under review.
    let written: Set<ObjectRef>
    let index: UsageIndex
    /// Lazily computed: the signed revision's indirect /Annots arrays.
    var cachedAnnotsArrays: Set<ObjectRef>?

    init(old: RevisionView, new: RevisionView, prev: RevisionView? = nil, fresh: Set<ObjectRef>, written: Set<ObjectRef>, index: UsageIndex) {
        self.old = old; self.new = new; self.prev = prev ?? old; self.fresh = fresh; self.written = written; self.index = index
    }

    /// The object is new: it was not in use when the document was signed.
    func isNew(_ r: ObjectRef) -> Bool { !old.inUse(r) }

    /// References reachable from an object of the new revision through objects defined after the
    /// signature (older objects are not entered: changes to them need their own justification).
    func dependencies(_ o: PDFObject?) -> Set<ObjectRef> {
        var out = Set<ObjectRef>()
        guard let o else { return out }
        var stack: [PDFObject] = [o]
        var steps = 0
        while let x = stack.popLast(), steps < 1_000_000 {
            steps += 1
            switch x {
            case .reference(let r):
                guard fresh.contains(r), out.insert(r).inserted else { continue }
                let v = new.resolve(r)
                if let s = v.streamValue { stack.append(.dictionary(s.dictionary)) } else { stack.append(v) }
            case .dictionary(let d): for (_, v) in d { stack.append(v) }
            case .array(let a): stack += a
            case .stream(let s): stack.append(.dictionary(s.dictionary))
            default: break
            }
        }
        return out
    }

    /// The usage in the signed revision that an absolute path from the trailer (e.g. /Root /Metadata)
    /// ends in, or nil when the path does not exist there.
    func oldUsage(_ path: [PDFName]) -> Usage? {
        var anchor = Usage.Anchor.trailer
        var rel: [PathStep] = []
        var cur: PDFObject = .dictionary(old.trailer)
        for (i, k) in path.enumerated() {
            guard let d = cur.dictionaryValue, let v = d[k] else { return nil }
            rel.append(.key(k))
            if i == path.count - 1 { return Usage(anchor: anchor, path: rel) }
            if case .reference(let r) = v {
                anchor = .object(r); rel = []
                cur = old.resolve(r)
            } else { cur = v }
        }
        return nil
    }

    /// The old usage of the value stored at `key` of the container `anchorRef` (or the trailer).
    static func usage(in anchor: Usage.Anchor, _ path: PathStep...) -> Usage { Usage(anchor: anchor, path: path) }

    // MARK: Comparing

    /// pyHanko's `safe_whitelist`: a reference may replace another only if neither is a stream (an
    /// overwritten stream could change content) and a different reference is a new object.
    func safeWhitelist(old oldRef: ObjectRef?, new newRef: ObjectRef) throws -> ObjectRef {
        if let oldRef, old.resolve(oldRef).streamValue != nil {
            throw SuspiciousModification("object \(oldRef.number) is a stream and cannot be replaced here")
        }
        if oldRef == newRef {
            if new.resolve(newRef).streamValue != nil { throw SuspiciousModification("object \(newRef.number) is a stream and cannot be replaced here") }
            return newRef
        }
        if isNew(newRef) { return newRef }
        throw SuspiciousModification("the update points to object \(newRef.number), which already existed when the document was signed, in an unexpected way")
    }

    /// pyHanko's `compare_key_refs`: the values of `key` in the old and new dictionary, with the
    /// new reference that may be whitelisted. Deleting a key is suspicious.
    func compareKeyRefs(_ key: PDFName, _ oldDict: PDFDictionary, _ newDict: PDFDictionary) throws -> (old: PDFObject?, new: PDFObject?, ref: ObjectRef?) {
        let ov = oldDict[key].flatMap { $0.isNull ? nil : $0 }
        let nv = newDict[key].flatMap { $0.isNull ? nil : $0 }
        guard let nv else {
            if ov != nil { throw SuspiciousModification("/\(key.string) was deleted") }
            return (nil, nil, nil)
        }
        let oldResolved = ov.map { old.resolve($0) }
        if case .reference(let nr) = nv {
            let r = try safeWhitelist(old: ov?.referenceValue, new: nr)
            return (oldResolved, new.resolve(nr), r)
        }
        return (oldResolved, nv, nil)
    }

    /// Compares two dictionaries semantically, ignoring some keys: key order, whitespace, string form
    /// (literal or hex) and direct-vs-indirect storage of an equal value do not count. Returns the new
    /// objects that hold such an equal value (to be whitelisted with the dictionary); throws when they
    /// differ.
    @discardableResult
    func compareDicts(_ oldObj: PDFObject?, _ newObj: PDFObject?, ignoring: Set<PDFName> = [], what: String) throws -> [ObjectRef] {
        guard let od = oldObj?.dictionaryValue else { throw SuspiciousModification("\(what) is not a dictionary in the signed revision") }
        guard let nd = newObj?.dictionaryValue else { throw SuspiciousModification("\(what) is no longer a dictionary") }
        if oldObj?.streamValue != nil || newObj?.streamValue != nil { throw SuspiciousModification("\(what) is a stream") }
        let ok = Set(od.keys.filter { !ignoring.contains($0) && !(od[$0]?.isNull ?? true) })
        let nk = Set(nd.keys.filter { !ignoring.contains($0) && !(nd[$0]?.isNull ?? true) })
        if ok != nk {
            let added = nk.subtracting(ok).map { "/" + $0.string }.sorted(), removed = ok.subtracting(nk).map { "/" + $0.string }.sorted()
            throw SuspiciousModification("\(what): entries \(added.isEmpty ? "" : "added \(added.joined(separator: " "))")\(removed.isEmpty ? "" : " removed \(removed.joined(separator: " "))")")
        }
        var accepted: [ObjectRef] = []
        for k in ok.sorted(by: { $0.string < $1.string }) {
            guard valuesEqual(od[k]!, nd[k]!, accepted: &accepted, depth: 0) else {
                throw SuspiciousModification("\(what): /\(k.string) changed")
            }
        }
        return accepted
    }

    /// Semantic equality of an old and a new value (see `compareDicts`).
    func valuesEqual(_ a: PDFObject, _ b: PDFObject, accepted: inout [ObjectRef], depth: Int) -> Bool {
        guard depth < 32 else { return false }
        switch (a, b) {
        case (.reference(let x), .reference(let y)): return x == y
        case (.reference(let x), _):
            // Old indirect, new direct: the same value now written in place.
            let v = old.resolve(x)
            return v.streamValue == nil && valuesEqual(v, b, accepted: &accepted, depth: depth + 1)
        case (_, .reference(let y)):
            // Old direct, new indirect: allowed only for a new object holding the same value.
            guard isNew(y) else { return false }
            let v = new.resolve(y)
            guard v.streamValue == nil, valuesEqual(a, v, accepted: &accepted, depth: depth + 1) else { return false }
            accepted.append(y)
            return true
        case (.string(let x), .string(let y)): return x.bytes == y.bytes
        case (.integer, .real), (.real, .integer), (.real, .real): return a.numberValue == b.numberValue
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return false }
            for (p, q) in zip(x, y) where !valuesEqual(p, q, accepted: &accepted, depth: depth + 1) { return false }
            return true
        case (.dictionary(let x), .dictionary(let y)):
            let xk = Set(x.keys.filter { !(x[$0]?.isNull ?? true) }), yk = Set(y.keys.filter { !(y[$0]?.isNull ?? true) })
            guard xk == yk else { return false }
            for k in xk where !valuesEqual(x[k]!, y[k]!, accepted: &accepted, depth: depth + 1) { return false }
            return true
        case (.stream, _), (_, .stream): return false
        default: return a == b
        }
    }

    /// Whether a value shows the same thing before and after the update under review (`prev` against
    /// `new`): references are followed on both sides, so an object redrawn in place differs and a new object
    /// with the same content does not; streams are equal when their dictionaries (apart from /Length,
    /// /Filter, /DecodeParms) and their decoded data are. An object the update did not write is equal to
    /// itself without being read. Undecodable data, too deep a structure or too much of it counts as a
    /// change (fail closed).
    func sameAcrossUpdate(_ a: PDFObject?, _ b: PDFObject?) -> Bool {
        var budget = 10_000
        var assumed = Set<[ObjectRef]>()
        return Self.sameAcross(a ?? .null, b ?? .null, self, &budget, &assumed, depth: 0)
    }

    private static func sameAcross(_ a: PDFObject, _ b: PDFObject, _ c: DiffContext, _ budget: inout Int, _ assumed: inout Set<[ObjectRef]>, depth: Int) -> Bool {
        budget -= 1
        guard budget > 0, depth < 24 else { return false }
        switch (a, b) {
        case (.reference(let x), .reference(let y)) where x == y && !c.written.contains(y) && c.prev.inUse(x):
            return true
        case (.reference(let x), .reference(let y)):
            // A pair already being compared further up is assumed equal (cycles through /Parent, /P).
            guard assumed.insert([x, y]).inserted else { return true }
            return sameAcross(c.prev.resolve(x), c.new.resolve(y), c, &budget, &assumed, depth: depth + 1)
        case (.reference(let x), _): return sameAcross(c.prev.resolve(x), b, c, &budget, &assumed, depth: depth + 1)
        case (_, .reference(let y)): return sameAcross(a, c.new.resolve(y), c, &budget, &assumed, depth: depth + 1)
        case (.string(let x), .string(let y)): return x.bytes == y.bytes
        case (.integer, .real), (.real, .integer), (.real, .real): return a.numberValue == b.numberValue
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return false }
            for (p, q) in zip(x, y) where !sameAcross(p, q, c, &budget, &assumed, depth: depth + 1) { return false }
            return true
        case (.dictionary(let x), .dictionary(let y)):
            return sameAcrossDicts(x, y, ignoring: [], c, &budget, &assumed, depth: depth)
        case (.stream(let x), .stream(let y)):
            guard sameAcrossDicts(x.dictionary, y.dictionary, ignoring: ["Length", "Filter", "DecodeParms"], c, &budget, &assumed, depth: depth) else { return false }
            if x.rawData == y.rawData && x.dictionary["Filter"] == y.dictionary["Filter"] && x.dictionary["DecodeParms"] == y.dictionary["DecodeParms"] { return true }
            do { return try x.decodedData() == y.decodedData() } catch { return false }
        default: return a == b
        }
    }

    private static func sameAcrossDicts(_ x: PDFDictionary, _ y: PDFDictionary, ignoring: Set<PDFName>, _ c: DiffContext, _ budget: inout Int, _ assumed: inout Set<[ObjectRef]>, depth: Int) -> Bool {
        let xk = Set(x.keys.filter { !ignoring.contains($0) && !(x[$0]?.isNull ?? true) })
        let yk = Set(y.keys.filter { !ignoring.contains($0) && !(y[$0]?.isNull ?? true) })
        guard xk == yk else { return false }
        for k in xk where !sameAcross(x[k]!, y[k]!, c, &budget, &assumed, depth: depth + 1) { return false }
        return true
    }

    /// pyHanko's `_is_id`: an object rewritten with identical content (a no-op).
    func identical(_ r: ObjectRef) -> Bool {
        guard old.inUse(r) else { return false }
        return Self.identical(old.resolve(r), new.resolve(r), depth: 0)
    }

    static func identical(_ a: PDFObject, _ b: PDFObject, depth: Int) -> Bool {
        guard depth < 64 else { return false }
        switch (a, b) {
        case (.string(let x), .string(let y)): return x.bytes == y.bytes
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { identical($0, $1, depth: depth + 1) }
        case (.dictionary(let x), .dictionary(let y)): return identicalDicts(x, y, depth: depth)
        case (.stream(let x), .stream(let y)):
            return identicalDicts(x.dictionary, y.dictionary, depth: depth) && x.rawLength == y.rawLength && x.rawData == y.rawData
        default: return a == b
        }
    }

    static func identicalDicts(_ x: PDFDictionary, _ y: PDFDictionary, depth: Int) -> Bool {
        let xk = Set(x.keys), yk = Set(y.keys)
        guard xk == yk else { return false }
        for k in xk where !identical(x[k]!, y[k]!, depth: depth + 1) { return false }
        return true
    }
}

/// Where the signed revision uses each object (pyHanko's reverse cross-reference cache): for every
/// reference of interest, the places (trailer or object + path) that write it. Like pyHanko, a page tree
/// node counts as used only through its place in the page tree, structure elements only inside the
/// structure tree, and /Parent back-links are not uses.
struct UsageIndex {
    var usages: [ObjectRef: Set<Usage>] = [:]
    /// Page tree nodes (pages and intermediate nodes) of the signed revision.
    var pageTree: [ObjectRef: Usage] = [:]
    /// References the signed revision writes to objects it does not define (dangling references): a
    /// later revision that defines them changes what those places show.
    var dangling = Set<ObjectRef>()

    /// Builds the index over everything reachable from the signed revision's trailer.
    static func build(_ rev: RevisionView, targets: Set<ObjectRef>) throws -> UsageIndex {
        var idx = UsageIndex()
        idx.pageTree = pageTreeNodes(rev)
        var visited = Set<ObjectRef>()
        var queue: [(Usage.Anchor, PDFObject)] = [(.trailer, .dictionary(rev.trailer))]
        var head = 0
        var budget = 20_000_000
        while head < queue.count {
            let (anchor, obj) = queue[head]
            head += 1
            var stack: [(PDFObject, [PathStep], Bool)] = [(obj, [], false)]
            while let (o, path, inStructElem) = stack.popLast() {
                budget -= 1
                if budget <= 0 { throw SuspiciousModification("the signed revision is too large to analyse (more than 20 million values)") }
                switch o {
                case .reference(let r):
                    let u = Usage(anchor: anchor, path: path)
                    if let canonical = idx.pageTree[r], canonical != u { continue }
                    if targets.contains(r) { idx.usages[r, default: []].insert(u) }
                    if !rev.inUse(r) { idx.dangling.insert(r); continue }
                    if visited.insert(r).inserted {
                        let v = rev.resolve(r)
                        queue.append((.object(r), v.streamValue.map { .dictionary($0.dictionary) } ?? v))
                    }
                case .dictionary(let d):
                    let structElem = d.name("Type") == "StructElem" || (d["S"] != nil && d["P"] != nil && d["K"] != nil)
                    for (k, v) in d {
                        if k == "Parent" { continue }
                        if structElem && k == "P" { continue }
                        if path.count >= 48 { continue }
                        stack.append((v, path + [.key(k)], structElem))
                    }
                case .array(let a):
                    if path.count >= 48 { continue }
                    for (i, v) in a.enumerated().reversed() { stack.append((v, path + [.index(i)], inStructElem)) }
                case .stream(let s):
                    stack.append((.dictionary(s.dictionary), path, inStructElem))
                default: break
                }
            }
        }
        return idx
    }

    /// Page tree nodes with their canonical usage (the parent's /Kids entry, or the catalog's /Pages).
    static func pageTreeNodes(_ rev: RevisionView) -> [ObjectRef: Usage] {
        var out: [ObjectRef: Usage] = [:]
        guard let rootRef = rev.rootRef, let pagesRef = rev.root["Pages"]?.referenceValue else { return out }
        out[pagesRef] = Usage(anchor: .object(rootRef), path: [.key("Pages")])
        var stack: [(ObjectRef, Int)] = [(pagesRef, 0)]
        while let (node, depth) = stack.popLast(), depth < 64, out.count < 5_000_000 {
            guard let d = rev.resolve(node).dictionaryValue, d.name("Type") != "Page" else { continue }
            guard let kidsObj = d["Kids"] else { continue }
            let kids: [PDFObject]
            let anchorFor: (Int) -> Usage
            if case .reference(let k) = kidsObj {
                kids = rev.resolve(k).arrayValue ?? []
                anchorFor = { Usage(anchor: .object(k), path: [.index($0)]) }
            } else {
                kids = kidsObj.arrayValue ?? []
                anchorFor = { Usage(anchor: .object(node), path: [.key("Kids"), .index($0)]) }
            }
            for (i, kid) in kids.enumerated() {
                guard let kr = kid.referenceValue, out[kr] == nil else { continue }
                out[kr] = anchorFor(i)
                stack.append((kr, depth + 1))
            }
        }
        return out
    }
}

/// The result of reviewing the revisions after a signature.
struct DiffResult {
    var level: ModificationLevel
    var notes: [String]
    var changedFields: Set<String>
}

/// Field locking of a signature (FieldMDP transform or the field's /Lock, ISO 32000-2 §12.7.5.5).
struct FieldLock {
    enum Action { case all, include(Set<String>), exclude(Set<String>) }
    var action: Action
    func isLocked(_ name: String) -> Bool {
        switch action {
        case .all: return true
        case .include(let s): return s.contains(name)
        case .exclude(let s): return !s.contains(name)
        }
    }
}

/// The standard policy (pyHanko's `StandardDiffPolicy` with `DEFAULT_DIFF_POLICY`'s rules, plus the
/// annotation rule for DocMDP P=3 and the checks listed in docs/signing.md).
struct DiffPolicy {
    var rules: [any DiffRule] = [
        CatalogRule(), DocInfoRule(), XRefStreamRule(), ObjectStreamRule(), DSSRule(), MetadataRule(), FormRule(),
    ]

    /// Reviews every revision after `base` against `base`, one by one (an intermediate revision's effect
    /// may be invisible in the last one). `docMDP` is the permission of the signature being checked
    /// (certification P, or its field lock's P), nil for an approval signature without one.
    func review(doc: PDFDocument, base: Int, revisionEnds: [Int], docMDP: Int?, lock: FieldLock?) throws -> DiffResult {
        let oldDoc = try doc.prefix(endingAt: revisionEnds[base])
        let old = RevisionView(doc: oldDoc, index: base)
        var level = ModificationLevel.none
        var notes: [String] = []
        var fields = Set<String>()
        var fresh = Set<ObjectRef>()
        var prev = old
        for k in (base + 1)..<revisionEnds.count {
            let newDoc = k == revisionEnds.count - 1 && revisionEnds[k] >= doc.fileSize ? doc : try doc.prefix(endingAt: revisionEnds[k])
            let new = RevisionView(doc: newDoc, index: k)
            defer { prev = new }
            do {
                let r = try reviewRevision(old: old, new: new, prev: prev, fresh: &fresh, docMDP: docMDP, lock: lock)
                level = max(level, r.level)
                notes += r.notes.map { "revision \(k + 1): \($0)" }
                fields.formUnion(r.changedFields)
            } catch let e as SuspiciousModification {
                throw SuspiciousModification("revision \(k + 1): \(e.message)")
            }
        }
        return DiffResult(level: level, notes: notes, changedFields: fields)
    }

    func reviewRevision(old: RevisionView, new: RevisionView, prev: RevisionView? = nil, fresh: inout Set<ObjectRef>, docMDP: Int?, lock: FieldLock?) throws -> DiffResult {
        // The update must extend the signed revision's cross-reference chain, undamaged.
        guard let update = new.doc.latestUpdate else {
            throw SuspiciousModification("the revision does not extend the signed revision's cross-reference data (a new cross-reference section without /Prev)")
        }
        let oldOffsets = old.doc.sections.map(\.offset)
        guard update.sectionOffsets.count > oldOffsets.count, Array(update.sectionOffsets.suffix(oldOffsets.count)) == oldOffsets else {
            throw SuspiciousModification("the revision's cross-reference chain does not lead back to the signed revision")
        }
        if new.doc.wasReconstructed && !old.doc.wasReconstructed {
            throw SuspiciousModification("the cross-reference data written after the signature is damaged, so readers may show objects it does not list")
        }
        if (old.trailer["Encrypt"] ?? .null) != (new.trailer["Encrypt"] ?? .null) {
            throw SuspiciousModification("the trailer's /Encrypt entry changed")
        }
        // Freed objects (pyHanko: reject_object_freeing).
        let freed = update.freed.filter { old.doc.generationInUse($0.number) != nil }
        if !freed.isEmpty {
            throw SuspiciousModification("objects \(freed.prefix(8).map { String($0.number) }.joined(separator: ", ")) were deleted")
        }
        let written = Set(update.written)
        // A number rewritten under another generation makes every old reference to it dangle.
        if let r = written.first(where: { w in old.doc.generationInUse(w.number).map { $0 != w.generation } ?? false }) {
            throw SuspiciousModification("object \(r.number) was replaced by a new generation (\(r.generation)), which deletes the signed object")
        }
        let newlyDefined = written.filter { !old.inUse($0) }
        fresh.formUnion(newlyDefined)
        let index = try UsageIndex.build(old, targets: written)
        let c = DiffContext(old: old, new: new, prev: prev, fresh: fresh, written: written, index: index)

        var explained: [ModificationLevel: Set<ObjectRef>] = [:]
        // Objects that existed (or were referenced, dangling) in the signed revision: each of their
        // usages must be approved.
        var toClear: [ObjectRef: (ModificationLevel, Set<Usage>)] = [:]
        for r in written { if let u = index.usages[r], !u.isEmpty { toClear[r] = (.none, u) } }

        // Orphans: new objects nothing reaches (writers leave them behind); cleared at the lowest level.
        var reached = Set<ObjectRef>()
        var roots: [PDFObject] = [.dictionary(new.trailer)]
        for r in written where old.inUse(r) { roots.append(new.resolve(r)) }
        for o in roots { reached.formUnion(c.dependencies(o)) }
        for r in newlyDefined where !reached.contains(r) && toClear[r] == nil {
            explained[.signaturesAndDSS, default: []].insert(r)
        }

        func ingest(_ level: ModificationLevel, _ u: RefUpdate) {
            if var (maxLevel, usages) = toClear[u.ref] {
                // A blanket approval clears the usages of an object of the signed revision; an object the
                // signed revision only referred to (dangling) must be approved place by place.
                if let usage = u.usage { usages.remove(usage) } else if old.inUse(u.ref) { usages = [] }
                maxLevel = max(maxLevel, level)
                toClear[u.ref] = (maxLevel, usages)
                if !usages.isEmpty { return }
                explained[maxLevel, default: []].insert(u.ref)
                return
            }
            explained[level, default: []].insert(u.ref)
        }

        var notes: [(ModificationLevel, String)] = []
        var changedFields = Set<String>()
        for rule in rules {
            let out = try rule.apply(c)
            notes += out.notes
            for (level, u) in out.updates {
                if let f = u.field, !u.validWhenLocked {
                    if let lock, lock.isLocked(f) {
                        throw SuspiciousModification("form field \"\(f)\" is locked by the signature, but object \(u.ref.number) of it was changed")
                    }
                    changedFields.insert(f)
                }
                if docMDP != nil && !u.validWhenCertifying {
                    throw SuspiciousModification("object \(u.ref.number) (\(u.field.map { "field \"\($0)\"" } ?? "a new field")) may only be added after an approval signature, not after a certification signature")
                }
                ingest(level, u)
            }
        }

        let atLTA = explained[.signaturesAndDSS] ?? []
        let atForm = explained[.formFilling] ?? []
        let atAnnot = explained[.annotations] ?? []
        var unexplainedLTA = written.subtracting(atLTA)
        var unexplainedForm = unexplainedLTA.subtracting(atForm)
        var unexplained = unexplainedForm.subtracting(atAnnot)
        let identical = Set(unexplainedLTA.filter { c.identical($0) })
        unexplained.subtract(identical); unexplainedForm.subtract(identical); unexplainedLTA.subtract(identical)
        if !unexplained.isEmpty {
            let list = unexplained.sorted().prefix(6).map { r -> String in
                var s = "object \(r.number) (\(describe(new.resolve(r))))"
                if let (_, left) = toClear[r], !left.isEmpty {
                    s += ", used in the signed revision by " + left.prefix(3).map(\.description).joined(separator: ", ")
                }
                return s
            }
            throw SuspiciousModification("changes no rule allows: " + list.joined(separator: "; ") + (unexplained.count > 6 ? "; and \(unexplained.count - 6) more" : ""))
        }
        let level: ModificationLevel = !unexplainedForm.isEmpty ? .annotations : !unexplainedLTA.isEmpty ? .formFilling : .signaturesAndDSS
        var seen = Set<String>()
        let texts = notes.filter { $0.0 <= level }.map(\.1).filter { seen.insert($0).inserted }
        return DiffResult(level: level, notes: texts.isEmpty ? ["no object changed"] : texts, changedFields: changedFields)
    }
}

/// Short description of an object for messages.
func describe(_ o: PDFObject) -> String {
    if let d = o.dictionaryValue {
        var s = d.name("Type").map { "/" + $0.string } ?? ""
        if let st = d.name("Subtype") { s += (s.isEmpty ? "" : " ") + "/" + st.string }
        if s.isEmpty { s = o.streamValue != nil ? "stream" : "dictionary" } else if o.streamValue != nil { s += " stream" }
        return s
    }
    switch o {
    case .array: return "array"
    case .null: return "null"
    default: return "value"
    }
}
