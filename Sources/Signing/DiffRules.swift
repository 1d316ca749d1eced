import Foundation
import PDF

// The rules of the difference analysis (see DiffAnalysis.swift). Each mirrors a pyHanko rule of the
// same purpose (`sign/diff_analysis/rules/`); where sealbatch is stricter or allows more, the doc comment
// says so and docs/signing.md lists it.

private typealias Level = ModificationLevel

/// The document catalog may change only in /AcroForm, /DSS, /Extensions, /Metadata, /MarkInfo and
/// /Version (each checked by its own rule); the trailer may point to a new catalog object only if it has
/// the same entries (pyHanko's `CatalogModificationRule`).
struct CatalogRule: DiffRule {
    static let exempt: Set<PDFName> = ["AcroForm", "DSS", "Extensions", "Metadata", "MarkInfo", "Version"]

    func apply(_ c: DiffContext) throws -> RuleOutcome {
        var out = RuleOutcome()
        guard let oldRootRef = c.old.rootRef else { throw SuspiciousModification("the signed revision's trailer has no catalog reference") }
        guard let newRootRef = c.new.rootRef else { throw SuspiciousModification("the trailer's /Root is not a reference to a catalog") }
        if newRootRef != oldRootRef {
            guard c.isNew(newRootRef) else {
                throw SuspiciousModification("the trailer's /Root now points to object \(newRootRef.number), an object of the signed revision that was not its catalog")
            }
        }
        let oldRoot = c.old.resolve(oldRootRef), newRoot = c.new.resolve(newRootRef)
        let accepted = try c.compareDicts(oldRoot, newRoot, ignoring: Self.exempt, what: newRootRef == oldRootRef ? "the document catalog" : "the new document catalog (object \(newRootRef.number))")
        out.allow(.signaturesAndDSS, accepted)
        let od = oldRoot.dictionaryValue ?? [:], nd = newRoot.dictionaryValue ?? [:]
        for key: PDFName in ["Extensions", "MarkInfo"] {
            let (_, _, ref) = try c.compareKeyRefs(key, od, nd)
            if let ref { out.allow(.signaturesAndDSS, RefUpdate(ref: ref, usage: c.oldUsage(["Root", key]))) }
        }
        out.allow(.signaturesAndDSS, RefUpdate(ref: newRootRef, usage: nil))
        if newRootRef != oldRootRef { out.note(.signaturesAndDSS, "the catalog was rewritten as object \(newRootRef.number) with the same entries") }
        if od["Version"] != nd["Version"] { out.note(.signaturesAndDSS, "catalog /Version updated") }
        if od["Extensions"] != nd["Extensions"] { out.note(.signaturesAndDSS, "catalog /Extensions updated") }
        return out
    }
}

/// The trailer's /Info dictionary may be updated (pyHanko's `DocInfoRule`). Only its use as /Info is
/// approved: an info dictionary that the signed revision also used as something else stays unexplained.
struct DocInfoRule: DiffRule {
    func apply(_ c: DiffContext) throws -> RuleOutcome {
        var out = RuleOutcome()
        guard case .reference(let nr)? = c.new.trailer["Info"] else { return out }
        let r = try c.safeWhitelist(old: c.old.trailer["Info"]?.referenceValue, new: nr)
        let v = c.new.resolve(r)
        guard v.dictionaryValue != nil, v.streamValue == nil else { throw SuspiciousModification("the trailer's /Info is not a dictionary") }
        out.allow(.signaturesAndDSS, RefUpdate(ref: r, usage: Usage(anchor: .trailer, path: [.key("Info")])))
        if c.written.contains(r) { out.note(.signaturesAndDSS, "document information (/Info) updated") }
        return out
    }
}

/// New cross-reference streams (pyHanko's `XrefStreamRule`).
struct XRefStreamRule: DiffRule {
    func apply(_ c: DiffContext) throws -> RuleOutcome {
        var out = RuleOutcome()
        guard let u = c.new.doc.latestUpdate else { return out }
        for x in u.xrefStreams where c.isNew(x) && c.new.resolve(x).dictionaryValue?.name("Type") == "XRef" {
            out.allow(.signaturesAndDSS, RefUpdate(ref: x, usage: nil))
        }
        return out
    }
}

/// New object streams — the streams only, not the objects in them (pyHanko's `ObjectStreamRule`).
struct ObjectStreamRule: DiffRule {
    func apply(_ c: DiffContext) throws -> RuleOutcome {
        var out = RuleOutcome()
        guard let u = c.new.doc.latestUpdate else { return out }
        for s in u.objectStreams where c.isNew(s) && c.new.resolve(s).dictionaryValue?.name("Type") == "ObjStm" {
            out.allow(.signaturesAndDSS, RefUpdate(ref: s, usage: nil))
        }
        return out
    }
}

/// The catalog's /DSS (ETSI EN 319 142-1 §5.4): /Certs, /CRLs, /OCSPs arrays of streams, and /VRI
/// entries keyed by a signature hash holding the same kinds of arrays (pyHanko's `DSSCompareRule`).
/// sealbatch also requires every such stream to look like DER data and to carry no /Type or /Subtype,
/// so a page content stream or an image cannot pass as validation data.
struct DSSRule: DiffRule {
    static let dssStreamKeys: [PDFName] = ["Certs", "CRLs", "OCSPs"]
    static let vriStreamKeys: [PDFName] = ["Cert", "CRL", "OCSP"]

    func apply(_ c: DiffContext) throws -> RuleOutcome {
        var out = RuleOutcome()
        let (oldDSS, newDSS, ref) = try c.compareKeyRefs("DSS", c.old.root, c.new.root)
        if let ref { out.allow(.signaturesAndDSS, RefUpdate(ref: ref, usage: c.oldUsage(["Root", "DSS"]))) }
        guard let newDSS else { return out }
        let od: PDFDictionary
        if let oldDSS {
            guard let d = oldDSS.dictionaryValue, oldDSS.streamValue == nil else { throw SuspiciousModification("the signed revision's /DSS is not a dictionary") }
            od = d
        } else { od = [:] }
        guard let nd = newDSS.dictionaryValue, newDSS.streamValue == nil else { throw SuspiciousModification("/DSS is not a dictionary") }
        let allowed: Set<PDFName> = Set(Self.dssStreamKeys + ["Type", "VRI"])
        if let bad = nd.keys.first(where: { !allowed.contains($0) }) { throw SuspiciousModification("/DSS has an unexpected entry /\(bad.string)") }
        try validate(c, od, nd, keys: Self.dssStreamKeys, vri: false, base: ["Root", "DSS"], into: &out)

        let (oldVRI, newVRI, vriRef) = try c.compareKeyRefs("VRI", od, nd)
        if let vriRef { out.allow(.signaturesAndDSS, RefUpdate(ref: vriRef, usage: c.oldUsage(["Root", "DSS", "VRI"]))) }
        if let newVRI {
            guard let nv = newVRI.dictionaryValue, newVRI.streamValue == nil else { throw SuspiciousModification("/DSS /VRI is not a dictionary") }
            let ov = oldVRI?.dictionaryValue ?? [:]
            try checkVRI(c, ov, nv, into: &out)
        }
        if c.written.contains(where: { $0 == ref || $0 == vriRef }) || ref.map(c.isNew) == true {
            out.note(.signaturesAndDSS, "validation data (DSS) added or updated")
        }
        return out
    }

    func validate(_ c: DiffContext, _ old: PDFDictionary, _ new: PDFDictionary, keys: [PDFName], vri: Bool, base: [PDFName], into out: inout RuleOutcome) throws {
        for key in keys {
            guard let value = new[key], !value.isNull else { continue }
            try assertStreamRefs(c, value, key: key, vri: vri)
            let usage = c.oldUsage(base + [key])
            if case .reference(let nr) = value {
                if case .reference(let or)? = old[key] {
                    let r = try c.safeWhitelist(old: or, new: nr)
                    out.allow(.signaturesAndDSS, RefUpdate(ref: r, usage: usage))
                }
            }
            out.allow(.signaturesAndDSS, c.dependencies(value), usage: usage)
        }
    }

    func assertStreamRefs(_ c: DiffContext, _ value: PDFObject, key: PDFName, vri: Bool) throws {
        let what = "/\(key.string) in \(vri ? "a /VRI entry" : "/DSS")"
        guard let arr = c.new.resolve(value).arrayValue else { throw SuspiciousModification("\(what) is not an array") }
        for item in arr {
            guard case .reference(let r) = item, let s = c.new.resolve(r).streamValue else {
                throw SuspiciousModification("\(what) must hold references to streams only")
            }
            // Only streams written after the signature need the closer look; the signed ones were there.
            guard c.fresh.contains(r) || c.written.contains(r) else { continue }
            if s.dictionary["Type"] != nil || s.dictionary["Subtype"] != nil {
                throw SuspiciousModification("\(what) holds object \(r.number), a \(describe(.stream(s))), not validation data")
            }
            let head: [UInt8]
            do { head = Array(try s.decodedData().prefix(2)) } catch {
                throw SuspiciousModification("\(what) holds object \(r.number), whose data cannot be decoded")
            }
            guard head.first == 0x30 else { throw SuspiciousModification("\(what) holds object \(r.number), which is not DER-encoded validation data") }
        }
    }

    func checkVRI(_ c: DiffContext, _ old: PDFDictionary, _ new: PDFDictionary, into out: inout RuleOutcome) throws {
        for (key, ov) in old {
            var accepted: [ObjectRef] = []
            guard let nv = new[key], c.valuesEqual(ov, nv, accepted: &accepted, depth: 0), accepted.isEmpty || ov.referenceValue == nil else {
                throw SuspiciousModification("/VRI entry /\(key.string) was modified or deleted")
            }
            out.allow(.signaturesAndDSS, accepted)
        }
        let allowed: Set<PDFName> = Set(Self.vriStreamKeys + ["Type", "TU", "TS"])
        for (key, value) in new where old[key] == nil {
            guard key.bytes.count == 40, key.bytes.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) }) else {
                throw SuspiciousModification("/VRI key /\(key.string) is not a signature hash")
            }
            var v = value
            if case .reference(let r) = value {
                if c.isNew(r) { out.allow(.signaturesAndDSS, RefUpdate(ref: r, usage: nil)) }
                v = c.new.resolve(r)
            }
            guard let vd = v.dictionaryValue, v.streamValue == nil else { throw SuspiciousModification("/VRI entry /\(key.string) is not a dictionary") }
            if let bad = vd.keys.first(where: { !allowed.contains($0) }) {
                throw SuspiciousModification("/VRI entry /\(key.string) has an unexpected entry /\(bad.string)")
            }
            try validate(c, [:], vd, keys: Self.vriStreamKeys, vri: true, base: ["Root", "DSS", "VRI", key], into: &out)
            if case .reference(let ts)? = vd["TS"], c.isNew(ts) { out.allow(.signaturesAndDSS, RefUpdate(ref: ts, usage: nil)) }
        }
    }
}

/// The catalog's /Metadata XMP stream may be replaced or updated in place if it is well-formed XMP
/// (pyHanko's `MetadataUpdateRule`): the exemption follows the catalog's /Metadata entry, never a
/// stream's own /Type /Metadata.
struct MetadataRule: DiffRule {
    func apply(_ c: DiffContext) throws -> RuleOutcome {
        var out = RuleOutcome()
        guard let mv = c.new.root["Metadata"], !mv.isNull else { return out }
        guard case .reference(let nr) = mv else { throw SuspiciousModification("the catalog's /Metadata is not an indirect reference") }
        try Self.checkXMP(c.new.resolve(nr), what: "the new XMP metadata")
        let or = c.old.root["Metadata"]?.referenceValue
        if let or { try Self.checkXMP(c.old.resolve(or), what: "the signed revision's XMP metadata") }
        if or == nr || c.isNew(nr) {
            out.allow(.signaturesAndDSS, RefUpdate(ref: nr, usage: c.oldUsage(["Root", "Metadata"])))
            if c.written.contains(nr) { out.note(.signaturesAndDSS, "XMP metadata updated") }
        }
        return out
    }

    /// Well-formedness checks of an XMP packet: a stream whose data has an `x:xmpmeta` root in the
    /// adobe:ns:meta/ namespace, and no DTD or entity declarations.
    static func checkXMP(_ o: PDFObject, what: String) throws {
        guard let s = o.streamValue else { throw SuspiciousModification("\(what) is not a stream") }
        if let t = s.dictionary.name("Type"), t != "Metadata" { throw SuspiciousModification("\(what) is a /\(t.string) stream") }
        let data: [UInt8]
        do { data = try s.decodedData() } catch { throw SuspiciousModification("\(what) cannot be decoded") }
        let text = String(decoding: data, as: UTF8.self)
        if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") { throw SuspiciousModification("\(what) declares a DTD or XML entities") }
        guard text.contains("xmpmeta"), text.contains("adobe:ns:meta/") else { throw SuspiciousModification("\(what) does not look like XMP") }
        guard text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("<") else { throw SuspiciousModification("\(what) is not XML") }
    }
}

// MARK: - Forms

/// A form field in the signed and the new revision, matched by fully qualified name.
struct FieldSpec {
    var name: String
    var type: PDFName?
    var oldRef: ObjectRef?
    var newRef: ObjectRef?
    /// The field's place in the signed revision's field tree (/Fields or a parent's /Kids).
    var oldCanonical: Usage?
}

/// Form changes (pyHanko's `FormUpdatingRule` with `SigFieldCreationRule`, `SigFieldModificationRule`
/// and `GenericFieldModificationRule`), plus sealbatch's annotation rule for DocMDP P=3 and its refusal
/// of new unsigned signature fields that draw over the page (Sneaky Signature).
struct FormRule: DiffRule {
    static let acroFormExempt: Set<PDFName> = ["Fields", "DR", "DA", "Q", "NeedAppearances", "SigFlags"]
    static let alwaysModifiable: Set<PDFName> = ["Ff", "Type"]
    static let valueUpdateKeys: Set<PDFName> = ["Ff", "Type", "AP", "AS", "V", "F", "DA", "Q"]

    func apply(_ c: DiffContext) throws -> RuleOutcome {
        var out = RuleOutcome()
        let (oAF, nAF, afRef) = try c.compareKeyRefs("AcroForm", c.old.root, c.new.root)
        if let afRef { out.allow(.signaturesAndDSS, RefUpdate(ref: afRef, usage: c.oldUsage(["Root", "AcroForm"]))) }
        var specs: [FieldSpec] = []
        if let nAF {
            let oldAF = oAF ?? .dictionary([:])
            out.allow(.signaturesAndDSS, try c.compareDicts(oldAF, nAF, ignoring: Self.acroFormExempt, what: "the form (/AcroForm)"))
            let od = oldAF.dictionaryValue ?? [:], nd = nAF.dictionaryValue ?? [:]
            let (oFields, nFields, fRef) = try c.compareKeyRefs("Fields", od, nd)
            if let fRef { out.allow(.signaturesAndDSS, RefUpdate(ref: fRef, usage: c.oldUsage(["Root", "AcroForm", "Fields"]))) }
            let (_, nDR, drRef) = try c.compareKeyRefs("DR", od, nd)
            if let drRef { out.allow(.formFilling, RefUpdate(ref: drRef, usage: c.oldUsage(["Root", "AcroForm", "DR"]))) }
            if let nDR { out.allow(.formFilling, c.dependencies(nDR)) }
            let fieldsAnchor: Usage
            if case .reference(let a)? = od["Fields"] { fieldsAnchor = Usage(anchor: .object(a), path: []) }
            else { fieldsAnchor = c.oldUsage(["Root", "AcroForm", "Fields"]) ?? Usage(anchor: .trailer, path: []) }
            specs = try listFields(c, old: oFields ?? .array([]), new: nFields ?? .array([]), oldArrayUsage: fieldsAnchor, parent: nil, inheritedFT: nil, depth: 0)
        }
        var widgetOwner: [ObjectRef: String] = [:]
        try signatureFieldCreation(c, specs, widgetOwner: &widgetOwner, into: &out)
        try pageAnnotations(c, widgetOwner: widgetOwner, into: &out)
        for s in specs where s.newRef != nil {
            if s.type == "Sig" { try signatureFieldModification(c, s, into: &out) }
            else if s.oldRef != nil { try genericFieldModification(c, s, into: &out) }
        }
        return out
    }

    // MARK: Field tree

    func listFields(_ c: DiffContext, old: PDFObject, new: PDFObject, oldArrayUsage: Usage, parent: String?, inheritedFT: PDFName?, depth: Int) throws -> [FieldSpec] {
        guard depth < 32 else { throw SuspiciousModification("the form field tree is nested too deeply") }
        struct Entry { var ref: ObjectRef; var type: PDFName?; var kids: PDFObject?; var index: Int; var kidsUsage: Usage }
        func entries(_ rev: RevisionView, _ arrObj: PDFObject, signed: Bool) throws -> [String: Entry] {
            let what = signed ? "the signed revision's form" : "the form"
            guard let arr = rev.resolve(arrObj).arrayValue else { throw SuspiciousModification("\(what): a field list is not an array") }
            var out: [String: Entry] = [:]
            for (i, item) in arr.enumerated() {
                guard case .reference(let r) = item else { throw SuspiciousModification("\(what): fields must be indirect objects") }
                guard let d = rev.resolve(r).dictionaryValue, rev.resolve(r).streamValue == nil else { throw SuspiciousModification("\(what): a field is not a dictionary") }
                guard let t = d["T"] else { continue }
                guard let name = rev.resolve(t).stringValue?.text else { throw SuspiciousModification("\(what): a field name is not a string") }
                if name.contains(".") { throw SuspiciousModification("\(what): field name \"\(name)\" contains a period") }
                let fq = parent.map { $0 + "." + name } ?? name
                if out[fq] != nil { throw SuspiciousModification("\(what): two fields are named \"\(fq)\"") }
                let ft = d.name("FT") ?? inheritedFT
                let kids = d["Kids"].map { rev.resolve($0) }
                let hasKids = !(kids?.arrayValue ?? []).isEmpty
                if !hasKids && ft == nil { throw SuspiciousModification("\(what): the type of field \"\(fq)\" cannot be told") }
                let kidsUsage: Usage
                if case .reference(let k)? = d["Kids"] { kidsUsage = Usage(anchor: .object(k), path: []) }
                else { kidsUsage = Usage(anchor: .object(r), path: [.key("Kids")]) }
                out[fq] = Entry(ref: r, type: ft, kids: d["Kids"], index: i, kidsUsage: kidsUsage)
            }
            return out
        }
        let o = try entries(c.old, old, signed: true), n = try entries(c.new, new, signed: false)
        var specs: [FieldSpec] = []
        for name in Set(o.keys).union(n.keys).sorted() {
            let oe = o[name], ne = n[name]
            if let oe, let ne, oe.type != ne.type { throw SuspiciousModification("the type of form field \"\(name)\" changed") }
            let type = oe?.type ?? ne?.type
            let canonical = oe.map { Usage(anchor: oldArrayUsage.anchor, path: oldArrayUsage.path + [.index($0.index)]) }
            specs.append(FieldSpec(name: name, type: type, oldRef: oe?.ref, newRef: ne?.ref, oldCanonical: canonical))
            let ok = oe?.kids ?? .array([]), nk = ne?.kids ?? .array([])
            if !(c.old.resolve(ok).arrayValue ?? []).isEmpty || !(c.new.resolve(nk).arrayValue ?? []).isEmpty {
                specs += try listFields(c, old: ok, new: nk, oldArrayUsage: oe?.kidsUsage ?? Usage(anchor: .trailer, path: []), parent: name, inheritedFT: type, depth: depth + 1)
            }
        }
        return specs
    }

    /// The places of the signed revision where a field legitimately appears: its place in the field tree,
    /// the /Annots of the pages showing it, a structure tree /OBJR (pyHanko's `expected_contexts`).
    func expectedUsages(_ c: DiffContext, _ s: FieldSpec) -> [Usage] {
        guard let r = s.oldRef else { return [] }
        var out = Set<Usage>()
        if let canon = s.oldCanonical { out.insert(canon) }
        for u in c.index.usages[r] ?? [] {
            if u.lastKey == "Obj" { out.insert(u) }
            if c.isAnnotsUsage(u) { out.insert(u) }
        }
        return Array(out)
    }

    // MARK: Signature fields

    /// New signature fields (pyHanko's `SigFieldCreationRule`, `allow_new_visible_after_certify` off).
    func signatureFieldCreation(_ c: DiffContext, _ specs: [FieldSpec], widgetOwner: inout [ObjectRef: String], into out: inout RuleOutcome) throws {
        let deleted = specs.filter { $0.oldRef != nil && $0.newRef == nil }.map(\.name)
        if !deleted.isEmpty { throw SuspiciousModification("form fields \(deleted.map { "\"\($0)\"" }.joined(separator: ", ")) were deleted") }
        let added = specs.filter { $0.oldRef == nil && $0.newRef != nil }
        let notSig = added.filter { $0.type != "Sig" }.map(\.name)
        if !notSig.isEmpty {
            throw SuspiciousModification("form fields were added that are not signature fields: \(notSig.map { "\"\($0)\"" }.joined(separator: ", ")) (adding fields is not form filling)")
        }
        for s in added {
            guard let ref = s.newRef, let field = c.new.resolve(ref).dictionaryValue else { continue }
            let visible = isFieldVisible(c.new, field)
            let level: Level = visible ? .formFilling : .signaturesAndDSS
            if c.isNew(ref) {
                out.allow(level, RefUpdate(ref: ref, usage: nil, field: s.name, validWhenLocked: !visible, validWhenCertifying: !visible))
            }
            for key: PDFName in ["AP", "Lock", "SV"] { if let v = field[key] { out.allow(.formFilling, c.dependencies(v), field: s.name) } }
            let signed = field["V"].map { !c.new.resolve($0).isNull } ?? false
            if let kidsObj = field["Kids"] {
                if case .reference(let k) = kidsObj, c.isNew(k) {
                    out.allow(level, RefUpdate(ref: k, usage: nil, field: s.name, validWhenLocked: !visible, validWhenCertifying: !visible))
                }
                guard let kids = c.new.resolve(kidsObj).arrayValue else { throw SuspiciousModification("/Kids of signature field \"\(s.name)\" is not an array") }
                for kid in kids {
                    guard case .reference(let kr) = kid else { throw SuspiciousModification("a widget of signature field \"\(s.name)\" is not an indirect object") }
                    guard let kd = c.new.resolve(kr).dictionaryValue, kd["T"] == nil else { continue }
                    widgetOwner[kr] = s.name
                    if c.isNew(kr) { out.allow(level, RefUpdate(ref: kr, usage: nil, field: s.name, validWhenLocked: !visible, validWhenCertifying: !visible)) }
                    if let ap = kd["AP"] { out.allow(.formFilling, c.dependencies(ap), field: s.name) }
                    if !signed, isAnnotVisible(c.new, kd), drawsSomething(c.new, kd) { throw sneaky(s.name) }
                }
            } else {
                widgetOwner[ref] = s.name
                if !signed, visible, drawsSomething(c.new, field) { throw sneaky(s.name) }
            }
            out.note(level, signed ? "signature field \"\(s.name)\" added" : "empty signature field \"\(s.name)\" added")
        }
    }

    /// sealbatch only: a signature field without a signature has nothing to show; one that draws over the
    /// page is the Sneaky Signature attack (Mainka et al., IEEE S&P 2021).
    func sneaky(_ name: String) -> SuspiciousModification {
        SuspiciousModification("a new signature field \"\(name)\" without a signature draws an appearance over the page (it can hide or replace content)")
    }

    /// Signing an existing empty signature field, or a new field's signature (pyHanko's
    /// `SigFieldModificationRule`).
    func signatureFieldModification(_ c: DiffContext, _ s: FieldSpec, into out: inout RuleOutcome) throws {
        guard let newRef = s.newRef, let newField = c.new.resolve(newRef).dictionaryValue else { return }
        let oldField = s.oldRef.flatMap { c.old.resolve($0).dictionaryValue }
        let previouslySigned = oldField.map { $0["V"].map { !c.old.resolve($0).isNull } ?? false } ?? false
        let nowSigned = newField["V"].map { !c.new.resolve($0).isNull } ?? false
        if let oldField {
            let unlocked = try compareFields(c, oldField, newField, name: s.name)
            let updates = expectedUsages(c, s).map { RefUpdate(ref: newRef, usage: $0, field: s.name, validWhenLocked: unlocked) }
            if !previouslySigned && nowSigned {
                for u in updates { out.allow(.signaturesAndDSS, u) }
                try appearanceUpdate(c, oldField, newField, name: s.name, into: &out)
                try inPlaceAppearanceUpdate(c, s, oldField, newField, into: &out)
            } else {
                if unlocked { for u in updates { out.allow(.signaturesAndDSS, u) } }
                return
            }
        }
        guard nowSigned else { return }
        guard case .reference(let v)? = newField["V"] else { throw SuspiciousModification("the value of signature field \"\(s.name)\" is not an indirect reference") }
        guard c.isNew(v) else { throw SuspiciousModification("the value of signature field \"\(s.name)\" is object \(v.number), which already existed when the document was signed") }
        guard let sig = c.new.resolve(v).dictionaryValue, c.new.resolve(v).streamValue == nil else {
            throw SuspiciousModification("the value of signature field \"\(s.name)\" is not a dictionary")
        }
        let visible = isFieldVisible(c.new, newField)
        let isTS = sig.name("Type") == "DocTimeStamp"
        let level: Level = isTS && !visible ? .signaturesAndDSS : .formFilling
        out.allow(level, RefUpdate(ref: v, usage: nil, field: s.name, validWhenLocked: isTS && !visible))
        for r in c.new.resolve(sig["Reference"] ?? .null).arrayValue ?? [] {
            if case .reference(let tp)? = c.new.resolve(r).dictionaryValue?["TransformParams"] { out.allow(level, RefUpdate(ref: tp, usage: nil, field: s.name)) }
        }
        out.note(level, isTS ? "document time-stamp \"\(s.name)\" added" : "signature \"\(s.name)\" added")
    }

    /// Filling in an existing field (pyHanko's `GenericFieldModificationRule`).
    func genericFieldModification(_ c: DiffContext, _ s: FieldSpec, into out: inout RuleOutcome) throws {
        guard let newRef = s.newRef, let oldRef = s.oldRef,
              let newField = c.new.resolve(newRef).dictionaryValue, let oldField = c.old.resolve(oldRef).dictionaryValue else { return }
        let unlocked = try compareFields(c, oldField, newField, name: s.name)
        try appearanceFollowsValue(c, s, newField)
        for u in expectedUsages(c, s) { out.allow(.formFilling, RefUpdate(ref: newRef, usage: u, field: s.name, validWhenLocked: unlocked)) }
        try appearanceUpdate(c, oldField, newField, name: s.name, into: &out)
        try inPlaceAppearanceUpdate(c, s, oldField, newField, into: &out)
        if let nv = newField["V"] {
            var accepted: [ObjectRef] = []
            let same = oldField["V"].map { c.valuesEqual($0, nv, accepted: &accepted, depth: 0) } ?? false
            if !same {
                out.allow(.formFilling, c.dependencies(nv), field: s.name)
                out.note(.formFilling, "form field \"\(s.name)\" filled in")
            }
        }
    }

    /// The entries of a field's widget that decide what the page shows of it: the appearance streams, the
    /// appearance state, and the annotation flags (hidden, no-view).
    static let displayKeys: [PDFName] = ["AP", "AS", "F"]

    /// sealbatch only (pyHanko's `GenericFieldModificationRule` accepts any appearance update as form
    /// filling): in each update, what an existing non-signature field shows may change only together with
    /// its value. A form filler writes /V and regenerates /AP in the same update; an appearance redrawn in
    /// place or replaced while /V stays as it was is the shadow "replace" attack done through a widget.
    /// Compared with the revision the update started from, so an earlier fill does not cover a later
    /// redraw; an appearance regenerated with identical content is no change.
    func appearanceFollowsValue(_ c: DiffContext, _ s: FieldSpec, _ newField: PDFDictionary) throws {
        guard let prevRef = [s.newRef, s.oldRef].compactMap({ $0 }).first(where: { c.prev.inUse($0) }),
              let prevField = c.prev.resolve(prevRef).dictionaryValue else { return }
        if !c.sameAcrossUpdate(prevField["V"], newField["V"]) { return }
        for key in Self.displayKeys where !c.sameAcrossUpdate(prevField[key], newField[key]) {
            let what = key == "F" ? "its visibility (/F)" : key == "AS" ? "its appearance state (/AS)" : "its appearance (/AP)"
            throw SuspiciousModification("form field \"\(s.name)\": \(what) changed but its value did not, so the page no longer shows what the form holds")
        }
    }

    /// pyHanko's `compare_fields`: only value keys may change; returns whether the field is unchanged
    /// apart from /Ff and /Type (then a lock does not forbid the update).
    func compareFields(_ c: DiffContext, _ old: PDFDictionary, _ new: PDFDictionary, name: String) throws -> Bool {
        try c.compareDicts(.dictionary(old), .dictionary(new), ignoring: Self.valueUpdateKeys, what: "form field \"\(name)\"")
        let hadType = old["Type"] != nil, hasType = new["Type"] != nil
        if hasType {
            if !hadType && new.name("Type") != "Annot" { throw SuspiciousModification("the /Type of form field \"\(name)\" was set to something other than /Annot") }
            if hadType && new["Type"] != old["Type"] { throw SuspiciousModification("the /Type of form field \"\(name)\" changed") }
        }
        if hadType && !hasType { throw SuspiciousModification("the /Type of form field \"\(name)\" was deleted") }
        do { try c.compareDicts(.dictionary(old), .dictionary(new), ignoring: Self.alwaysModifiable, what: "form field \"\(name)\"") } catch is SuspiciousModification { return false }
        return true
    }

    /// pyHanko's `_allow_appearance_update`: a field's /AP may be replaced by new appearance streams.
    func appearanceUpdate(_ c: DiffContext, _ old: PDFDictionary, _ new: PDFDictionary, name: String, into out: inout RuleOutcome) throws {
        let (oldAP, newAP, ref) = try c.compareKeyRefs("AP", old, new)
        if let ref { out.allow(.formFilling, RefUpdate(ref: ref, usage: nil, field: name)) }
        guard let newAP else { return }
        guard let nd = newAP.dictionaryValue, newAP.streamValue == nil else { throw SuspiciousModification("the /AP of form field \"\(name)\" is not a dictionary") }
        var checked = false
        for key: PDFName in ["N", "R", "D"] {
            guard let v = nd[key] else { continue }
            out.allow(.formFilling, c.dependencies(v), field: name)
            if oldAP?.dictionaryValue != nil, !checked, case .reference(let apRef)? = old["AP"] {
                if (c.index.usages[apRef]?.count ?? 0) > 1 {
                    throw SuspiciousModification("the appearance dictionary of form field \"\(name)\" (object \(apRef.number)) was updated, but it is also used elsewhere")
                }
                checked = true
            }
        }
    }

    /// pyHanko's `_allow_in_place_appearance_update`: an appearance stream of the field that was not written
    /// in the signed revision itself may be overwritten in place — through the field's /AP only, so a
    /// stream that the page also draws stays unexplained.
    func inPlaceAppearanceUpdate(_ c: DiffContext, _ s: FieldSpec, _ old: PDFDictionary, _ new: PDFDictionary, into out: inout RuleOutcome) throws {
        guard old["AS"] == nil, let oldRaw = old["AP"], let newRaw = new["AP"], let oldRef = s.oldRef else { return }
        guard let oad = c.old.resolve(oldRaw).dictionaryValue, let nad = c.new.resolve(newRaw).dictionaryValue else { return }
        let signedRevisionWrote = Set(c.old.doc.latestUpdate?.written ?? [])
        let singleSection = c.old.doc.latestUpdate == nil
        for key: PDFName in ["N", "R", "D"] {
            guard case .reference(let os)? = oad[key], case .reference(let ns)? = nad[key], os == ns else { continue }
            if singleSection || signedRevisionWrote.contains(os) { continue }
            let usage: Usage
            if case .reference(let apRef) = oldRaw { usage = Usage(anchor: .object(apRef), path: [.key(key)]) }
            else { usage = Usage(anchor: .object(oldRef), path: [.key("AP"), .key(key)]) }
            out.allow(.formFilling, RefUpdate(ref: ns, usage: usage, field: s.name))
            out.allow(.formFilling, c.dependencies(c.new.resolve(ns)), field: s.name)
        }
    }

    // MARK: Pages

    /// Annotations added to pages: widgets of new signature fields (pyHanko's `_walk_page_tree_annots`),
    /// and — sealbatch only — comment annotations that cannot cover page content (level `annotations`,
    /// allowed only under DocMDP P=3). Deleting an annotation, adding any other kind, or changing a page in
    /// any other way is not explained.
    func pageAnnotations(_ c: DiffContext, widgetOwner: [ObjectRef: String], into out: inout RuleOutcome) throws {
        guard let op = c.old.root["Pages"]?.referenceValue, let np = c.new.root["Pages"]?.referenceValue else { return }
        guard op == np else { return } // a replaced page tree is left to the catalog rule (unexplained)
        try walk(c, old: op, new: np, widgetOwner: widgetOwner, seen: [], into: &out)
    }

    private func walk(_ c: DiffContext, old: ObjectRef, new: ObjectRef, widgetOwner: [ObjectRef: String], seen: Set<ObjectRef>, into out: inout RuleOutcome) throws {
        guard seen.count < 64, !seen.contains(old) else { throw SuspiciousModification("the page tree has a cycle") }
        func kids(_ rev: RevisionView, _ r: ObjectRef) throws -> [ObjectRef] {
            guard let d = rev.resolve(r).dictionaryValue, let k = rev.resolve(d["Kids"] ?? .null).arrayValue else {
                throw SuspiciousModification("a page tree node has no /Kids")
            }
            return try k.map { guard case .reference(let x) = $0 else { throw SuspiciousModification("the page tree holds a direct object") }; return x }
        }
        let ok = try kids(c.old, old), nk = try kids(c.new, new)
        guard ok == nk else { throw SuspiciousModification("the page tree changed (pages added, removed or reordered)") }
        for kid in ok {
            guard let od = c.old.resolve(kid).dictionaryValue, let nd = c.new.resolve(kid).dictionaryValue else { continue }
            if od.name("Type") == "Pages" {
                try walk(c, old: kid, new: kid, widgetOwner: widgetOwner, seen: seen.union([old]), into: &out)
                continue
            }
            guard od.name("Type") == "Page" || od["Contents"] != nil || od["MediaBox"] != nil else { continue }
            try page(c, kid, od, nd, widgetOwner: widgetOwner, into: &out)
        }
    }

    private func annotRefs(_ rev: RevisionView, _ d: PDFDictionary) throws -> [ObjectRef] {
        guard let a = d["Annots"], !a.isNull else { return [] }
        guard let arr = rev.resolve(a).arrayValue else { throw SuspiciousModification("a page's /Annots is not an array") }
        return try arr.map { guard case .reference(let r) = $0 else { throw SuspiciousModification("a page's /Annots holds a direct annotation") }; return r }
    }

    private func page(_ c: DiffContext, _ ref: ObjectRef, _ od: PDFDictionary, _ nd: PDFDictionary, widgetOwner: [ObjectRef: String], into out: inout RuleOutcome) throws {
        guard nd["Annots"] != nil else { return }
        let oa = try annotRefs(c.old, od), na = try annotRefs(c.new, nd)
        let oldSet = Set(oa), newSet = Set(na)
        if oldSet == newSet { return }
        let deleted = oldSet.subtracting(newSet)
        if !deleted.isEmpty { throw SuspiciousModification("annotations \(deleted.sorted().prefix(5).map { String($0.number) }.joined(separator: ", ")) were deleted from a page") }
        let added = newSet.subtracting(oldSet)
        var comments: [ObjectRef] = []
        for a in added.sorted() where widgetOwner[a] == nil {
            try checkComment(c, a)
            comments.append(a)
        }
        try c.compareDicts(.dictionary(od), .dictionary(nd), ignoring: ["Annots"], what: "page object \(ref.number)")
        let fields = Set(added.compactMap { widgetOwner[$0] })
        let field = added.count == 1 ? fields.first : nil
        let level: Level = comments.isEmpty ? .signaturesAndDSS : .annotations
        out.allow(level, RefUpdate(ref: ref, usage: nil, field: field, validWhenLocked: field != nil))
        if case .reference(let ar)? = nd["Annots"], od["Annots"]?.referenceValue == ar || c.isNew(ar) {
            out.allow(level, RefUpdate(ref: ar, usage: Usage(anchor: .object(ref), path: [.key("Annots")]), field: field, validWhenLocked: field != nil))
        }
        for a in comments {
            out.allow(.annotations, RefUpdate(ref: a, usage: nil))
            out.allow(.annotations, c.dependencies(c.new.resolve(a)))
            let st = c.new.resolve(a).dictionaryValue?.name("Subtype")?.string ?? "?"
            out.note(.annotations, "comment annotation (/\(st)) added")
        }
    }

    /// Kinds of annotation a DocMDP P=3 document may gain: comments that do not paint over page content
    /// (a note icon, text markup blended with the page, a caret, a closed pop-up). A free-text box, a
    /// stamp, a shape, ink, a redaction, a link or a widget can cover what was signed (the Evil
    /// Annotation attack, Mainka et al., IEEE S&P 2021), so they are never allowed.
    static let markup: Set<PDFName> = ["Highlight", "Underline", "StrikeOut", "Squiggly"]

    func checkComment(_ c: DiffContext, _ a: ObjectRef) throws {
        guard c.isNew(a), let d = c.new.resolve(a).dictionaryValue, c.new.resolve(a).streamValue == nil else {
            throw SuspiciousModification("object \(a.number), an object of the signed revision, was added to a page's annotations")
        }
        let st = d.name("Subtype")
        let what = "an annotation (/\(st?.string ?? "no subtype")) was added that can cover page content"
        let rect = PDFRect(c.new.resolve(d["Rect"] ?? .null))
        switch st {
        case "Text"?:
            // A note icon: small, whatever its appearance.
            guard let rect, rect.width <= 48, rect.height <= 48 else { throw SuspiciousModification("\(what): a note larger than an icon") }
        case "Caret"?:
            guard d["AP"] == nil || (rect.map { $0.width <= 48 && $0.height <= 48 } ?? false) else { throw SuspiciousModification(what) }
        case "Popup"?:
            guard d["AP"] == nil, c.new.resolve(d["Open"] ?? .null).boolValue != true else { throw SuspiciousModification("\(what): an open or painted pop-up") }
        case let s? where Self.markup.contains(s):
            if let ap = d["AP"], !blendsWithPage(c.new, ap) { throw SuspiciousModification("\(what): text markup with an appearance that does not blend with the page") }
        default:
            throw SuspiciousModification(what)
        }
    }

    /// Whether every normal appearance stream paints only through a multiply/darken blend mode (how
    /// viewers draw highlights), so the page's text stays visible underneath.
    func blendsWithPage(_ rev: RevisionView, _ ap: PDFObject) -> Bool {
        guard let n = rev.resolve(ap).dictionaryValue?["N"] else { return false }
        var streams: [PDFStream] = []
        let nv = rev.resolve(n)
        if let s = nv.streamValue { streams = [s] } else if let states = nv.dictionaryValue {
            streams = states.compactMap { rev.resolve($0.value).streamValue }
        }
        guard !streams.isEmpty else { return false }
        for s in streams {
            guard let gs = rev.resolve(rev.resolve(s.dictionary["Resources"] ?? .null).dictionaryValue?["ExtGState"] ?? .null).dictionaryValue,
                  !gs.isEmpty else { return false }
            for (_, g) in gs {
                guard let gd = rev.resolve(g).dictionaryValue else { return false }
                let bm = rev.resolve(gd["BM"] ?? .null)
                let names = bm.nameValue.map { [$0] } ?? (bm.arrayValue ?? []).compactMap(\.nameValue)
                guard let first = names.first, first == "Multiply" || first == "Darken" else { return false }
            }
        }
        return true
    }

    // MARK: Appearance helpers

    func isAnnotVisible(_ rev: RevisionView, _ d: PDFDictionary) -> Bool {
        guard let r = PDFRect(rev.resolve(d["Rect"] ?? .null)) else { return false }
        return r.width * r.height > 0
    }

    func isFieldVisible(_ rev: RevisionView, _ d: PDFDictionary) -> Bool {
        if isAnnotVisible(rev, d) { return true }
        guard let kids = rev.resolve(d["Kids"] ?? .null).arrayValue else { return false }
        return kids.contains { rev.resolve($0).dictionaryValue.map { isAnnotVisible(rev, $0) } ?? false }
    }

    /// Whether a widget's normal appearance paints anything (a painting or text operator).
    func drawsSomething(_ rev: RevisionView, _ d: PDFDictionary) -> Bool {
        guard let n = rev.resolve(d["AP"] ?? .null).dictionaryValue?["N"] else { return false }
        let nv = rev.resolve(n)
        var streams: [PDFStream] = []
        if let s = nv.streamValue { streams = [s] } else if let states = nv.dictionaryValue { streams = states.compactMap { rev.resolve($0.value).streamValue } }
        let painting: Set<String> = ["f", "F", "f*", "B", "B*", "b", "b*", "S", "s", "Tj", "TJ", "'", "\"", "Do", "sh", "BI"]
        for s in streams {
            // Undecodable data counts as painting: it cannot be shown to be empty.
            let data: [UInt8]
            do { data = try s.decodedData() } catch { return true }
            var token: [UInt8] = []
            for b in data + [0x20] {
                if b <= 0x20 || b == 0x2F || b == 0x28 || b == 0x29 || b == 0x3C || b == 0x3E || b == 0x5B || b == 0x5D {
                    if !token.isEmpty, painting.contains(String(decoding: token, as: UTF8.self)) { return true }
                    token = []
                    if b == 0x27 || b == 0x22 { return true }
                } else { token.append(b) }
            }
        }
        return false
    }
}

extension DiffContext {
    /// Whether a usage is an entry of some page's /Annots in the signed revision.
    func isAnnotsUsage(_ u: Usage) -> Bool {
        if u.path.count >= 2, case .key("Annots") = u.path[u.path.count - 2], case .index = u.path.last { return true }
        if u.path.count == 1, case .index = u.path[0], case .object(let arr) = u.anchor { return annotsArrays.contains(arr) }
        return false
    }

    /// Indirect /Annots arrays of the signed revision's pages.
    var annotsArrays: Set<ObjectRef> {
        if let a = cachedAnnotsArrays { return a }
        var out = Set<ObjectRef>()
        for (node, _) in index.pageTree {
            if case .reference(let a)? = old.resolve(node).dictionaryValue?["Annots"] { out.insert(a) }
        }
        cachedAnnotsArrays = out
        return out
    }
}
