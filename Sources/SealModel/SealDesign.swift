import Foundation

/// An sRGB colour written `#RRGGBB` in configuration.
public struct SealColor: Codable, Sendable, Equatable, CustomStringConvertible {
    public var red: Double, green: Double, blue: Double

    /// Official seal red (#E60012), the default ink.
    public static let officialRed = SealColor(red: 230 / 255, green: 0, blue: 18 / 255)

    public init(red: Double, green: Double, blue: Double) { self.red = red; self.green = green; self.blue = blue }

    /// Parses `#RRGGBB` (or `RRGGBB`); nil when malformed.
    public init?(hex: String) {
        var s = Substring(hex)
        if s.hasPrefix("#") { s = s.dropFirst() }
        guard s.count == 6, let v = UInt32(s, radix: 16) else { return nil }
        red = Double((v >> 16) & 0xFF) / 255
        green = Double((v >> 8) & 0xFF) / 255
        blue = Double(v & 0xFF) / 255
    }

    public var description: String {
        String(format: "#%02X%02X%02X", Int((red * 255).rounded()), Int((green * 255).rounded()), Int((blue * 255).rounded()))
    }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let c = SealColor(hex: s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "colour '\(s)' is not of the form #RRGGBB"))
        }
        self = c
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A seal appearance as configured in the seal registry or a pipeline's `render` stage.
/// JSON: an object with `"kind"` = `round` | `oval` | `square` | `image` and kebab-case keys; unknown
/// keys are rejected. Example:
/// `{"kind":"round","diameter-mm":40,"organisation":"某某市某某有限公司","name":"合同专用章","code":"1101080012345"}`.
public enum SealDesign: Codable, Sendable, Equatable {
    /// Round official seal (公章, 合同专用章 …): rim, five-pointed star, name along the upper arc.
    case round(RoundSeal)
    /// Oval seal (e.g. 发票专用章, 40×30 mm, tax number across the middle).
    case oval(OvalSeal)
    /// Square personal seal of a legal representative (2 or 4 characters, 3 also accepted).
    case square(SquareSeal)
    /// A scanned seal image (PNG with transparency), for organisations that require their scan.
    case image(ImageSeal)

    /// Width and height of the seal in millimetres.
    public var sizeMM: (width: Double, height: Double) {
        switch self {
        case .round(let r): return (r.diameterMM, r.diameterMM)
        case .oval(let o): return (o.widthMM, o.heightMM)
        case .square(let s): return (s.sizeMM, s.sizeMM)
        case .image(let i): return (i.widthMM, i.heightMM ?? i.widthMM)
        }
    }

    /// Every character that must be drawn with the seal font.
    public var text: String {
        switch self {
        case .round(let r): return r.organisation + (r.name ?? "") + (r.code ?? "")
        case .oval(let o): return o.organisation + (o.name ?? "") + (o.taxNumber ?? "")
        case .square(let s): return s.characters
        case .image: return ""
        }
    }

    private enum KindKey: String, CodingKey { case kind }

    public init(from decoder: any Decoder) throws {
        let kind = try decoder.container(keyedBy: KindKey.self).decode(String.self, forKey: .kind)
        switch kind {
        case "round": self = .round(try RoundSeal(from: decoder))
        case "oval": self = .oval(try OvalSeal(from: decoder))
        case "square": self = .square(try SquareSeal(from: decoder))
        case "image": self = .image(try ImageSeal(from: decoder))
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [AnyKey(stringValue: "kind")],
                debugDescription: "unknown seal kind '\(kind)'; use round, oval, square or image"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .round(let r): try r.encode(to: encoder)
        case .oval(let o): try o.encode(to: encoder)
        case .square(let s): try s.encode(to: encoder)
        case .image(let i): try i.encode(to: encoder)
        }
    }

    /// Semantic checks beyond decoding (sizes, character counts, named image file). A fault names the
    /// JSON path below `path` (`design.diameter-mm: 100 is outside 20…80 mm …`).
    public func validate(at path: String = "design") throws {
        func need(_ ok: Bool, _ key: String, _ msg: String) throws {
            if !ok { throw SealDesignError(path: path + "." + key, message: msg) }
        }
        switch self {
        case .round(let r):
            try need((20...80).contains(r.diameterMM), "diameter-mm", "\(r.diameterMM) is outside 20…80 mm (official seals are 38, 40 or 42 mm)")
            try need(r.rimWidthMM > 0 && r.rimWidthMM < r.diameterMM / 8, "rim-width-mm", "\(r.rimWidthMM) must be positive and below 1/8 of the diameter")
            try need(!r.organisation.trimmingCharacters(in: .whitespaces).isEmpty, "organisation", "must not be empty")
            try need((90...330).contains(r.textArcDegrees), "text-arc-degrees", "\(r.textArcDegrees) is outside 90…330")
        case .oval(let o):
            try need((20...80).contains(o.widthMM), "width-mm", "\(o.widthMM) is outside 20…80 mm")
            try need((15...80).contains(o.heightMM), "height-mm", "\(o.heightMM) is outside 15…80 mm")
            try need(o.rimWidthMM > 0 && o.rimWidthMM < o.heightMM / 8, "rim-width-mm", "\(o.rimWidthMM) must be positive and below 1/8 of the height")
            try need(!o.organisation.trimmingCharacters(in: .whitespaces).isEmpty, "organisation", "must not be empty")
        case .square(let s):
            try need((8...60).contains(s.sizeMM), "size-mm", "\(s.sizeMM) is outside 8…60 mm")
            try need((2...4).contains(s.characters.count), "characters", "a personal seal has 2 or 4 characters (3 accepted); got \(s.characters.count)")
            try need(s.rimWidthMM > 0 && s.rimWidthMM < s.sizeMM / 6, "rim-width-mm", "\(s.rimWidthMM) must be positive and below 1/6 of the size")
        case .image(let i):
            try need((5...120).contains(i.widthMM), "width-mm", "\(i.widthMM) is outside 5…120 mm")
            if let h = i.heightMM { try need((5...120).contains(h), "height-mm", "\(h) is outside 5…120 mm") }
            try need(!i.file.isEmpty, "file", "must name a PNG file")
        }
    }

    /// Decodes and validates a design from JSON; every fault is a `SealDesignError` naming its JSON
    /// path below `path` (unknown keys, missing or mistyped values, sizes out of range).
    public static func validated(json: Data, at path: String = "design") throws -> SealDesign {
        let d: SealDesign
        do { d = try JSONDecoder().decode(SealDesign.self, from: json) } catch {
            throw SealDesignError(decoding: error, at: path)
        }
        try d.validate(at: path)
        return d
    }

    /// Canonical JSON of the design (sorted keys), as the registry stores it.
    public func canonicalJSON() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }
}

/// A seal design that does not decode or is out of range, with the JSON path of the fault.
public struct SealDesignError: Error, Sendable, Equatable, CustomStringConvertible {
    /// JSON path of the fault (`design.diameter-mm`).
    public var path: String
    /// What is wrong there.
    public var message: String

    public init(path: String, message: String) { self.path = path; self.message = message }

    /// From a `DecodingError`: its coding path below `path`.
    public init(decoding error: any Error, at path: String) {
        guard let e = error as? DecodingError else { self.init(path: path, message: "not a seal design: \(error)"); return }
        func full(_ p: [any CodingKey]) -> String {
            let rel = jsonPath(p)
            if rel == "(root)" { return path }
            return rel.hasPrefix("[") ? path + rel : path + "." + rel
        }
        switch e {
        case .dataCorrupted(let c):
            let msg = c.underlyingError.map { _ in "not valid JSON" } ?? c.debugDescription
            self.init(path: full(c.codingPath), message: msg)
        case .keyNotFound(let k, let c): self.init(path: full(c.codingPath + [k]), message: "required key is missing")
        case .typeMismatch(let t, let c): self.init(path: full(c.codingPath), message: "expected \(t)")
        case .valueNotFound(let t, let c): self.init(path: full(c.codingPath), message: "expected \(t), found null")
        @unknown default: self.init(path: path, message: "\(e)")
        }
    }

    public var description: String { "\(path): \(message)" }
}

/// Round official seal. Defaults follow common practice for a 40 mm 合同专用章.
public struct RoundSeal: Codable, Sendable, Equatable {
    public var diameterMM: Double = 40
    public var rimWidthMM: Double = 1.2
    /// Organisation name, laid clockwise along the upper arc.
    public var organisation: String
    /// Seal name (e.g. 合同专用章), horizontal below the star.
    public var name: String?
    /// Seal code (e.g. 13 digits), along the lower rim.
    public var code: String?
    public var color: SealColor = .officialRed
    /// Font family (fontconfig name); default: the first installed Song/serif CJK font covering the text.
    public var font: String?
    public var star: Bool = true
    /// Angle of the upper arc available to the organisation name.
    public var textArcDegrees: Double = 250
    public var inkTexture: Bool = false
    /// Seed of the ink texture, so the same seal always looks the same.
    public var textureSeed: UInt64 = 1

    public init(diameterMM: Double = 40, organisation: String, name: String? = nil, code: String? = nil) {
        self.diameterMM = diameterMM; self.organisation = organisation; self.name = name; self.code = code
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, diameterMM = "diameter-mm", rimWidthMM = "rim-width-mm", organisation, name, code, color, font, star
        case textArcDegrees = "text-arc-degrees", inkTexture = "ink-texture", textureSeed = "texture-seed"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)), in: "a round seal")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        organisation = try c.decode(String.self, forKey: .organisation)
        diameterMM = try c.decodeIfPresent(Double.self, forKey: .diameterMM) ?? 40
        rimWidthMM = try c.decodeIfPresent(Double.self, forKey: .rimWidthMM) ?? (diameterMM * 0.03)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        code = try c.decodeIfPresent(String.self, forKey: .code)
        color = try c.decodeIfPresent(SealColor.self, forKey: .color) ?? .officialRed
        font = try c.decodeIfPresent(String.self, forKey: .font)
        star = try c.decodeIfPresent(Bool.self, forKey: .star) ?? true
        textArcDegrees = try c.decodeIfPresent(Double.self, forKey: .textArcDegrees) ?? 250
        inkTexture = try c.decodeIfPresent(Bool.self, forKey: .inkTexture) ?? false
        textureSeed = try c.decodeIfPresent(UInt64.self, forKey: .textureSeed) ?? 1
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("round", forKey: .kind)
        try c.encode(diameterMM, forKey: .diameterMM)
        try c.encode(rimWidthMM, forKey: .rimWidthMM)
        try c.encode(organisation, forKey: .organisation)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(code, forKey: .code)
        try c.encode(color, forKey: .color)
        try c.encodeIfPresent(font, forKey: .font)
        try c.encode(star, forKey: .star)
        try c.encode(textArcDegrees, forKey: .textArcDegrees)
        try c.encode(inkTexture, forKey: .inkTexture)
        try c.encode(textureSeed, forKey: .textureSeed)
    }
}

/// Oval seal (invoice-seal style): organisation along the upper arc, tax number across the middle,
/// seal name below it.
public struct OvalSeal: Codable, Sendable, Equatable {
    public var widthMM: Double = 40
    public var heightMM: Double = 30
    public var rimWidthMM: Double = 1.0
    public var organisation: String
    /// Seal name (e.g. 发票专用章), horizontal below the tax number.
    public var name: String?
    /// Tax number (统一社会信用代码), horizontal across the middle.
    public var taxNumber: String?
    public var color: SealColor = .officialRed
    public var font: String?
    public var textArcDegrees: Double = 165
    public var inkTexture: Bool = false
    public var textureSeed: UInt64 = 1

    public init(widthMM: Double = 40, heightMM: Double = 30, organisation: String, name: String? = nil, taxNumber: String? = nil) {
        self.widthMM = widthMM; self.heightMM = heightMM; self.organisation = organisation; self.name = name; self.taxNumber = taxNumber
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, widthMM = "width-mm", heightMM = "height-mm", rimWidthMM = "rim-width-mm", organisation, name
        case taxNumber = "tax-number", color, font, textArcDegrees = "text-arc-degrees", inkTexture = "ink-texture", textureSeed = "texture-seed"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)), in: "an oval seal")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        organisation = try c.decode(String.self, forKey: .organisation)
        widthMM = try c.decodeIfPresent(Double.self, forKey: .widthMM) ?? 40
        heightMM = try c.decodeIfPresent(Double.self, forKey: .heightMM) ?? 30
        rimWidthMM = try c.decodeIfPresent(Double.self, forKey: .rimWidthMM) ?? 1.0
        name = try c.decodeIfPresent(String.self, forKey: .name)
        taxNumber = try c.decodeIfPresent(String.self, forKey: .taxNumber)
        color = try c.decodeIfPresent(SealColor.self, forKey: .color) ?? .officialRed
        font = try c.decodeIfPresent(String.self, forKey: .font)
        textArcDegrees = try c.decodeIfPresent(Double.self, forKey: .textArcDegrees) ?? 165
        inkTexture = try c.decodeIfPresent(Bool.self, forKey: .inkTexture) ?? false
        textureSeed = try c.decodeIfPresent(UInt64.self, forKey: .textureSeed) ?? 1
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("oval", forKey: .kind)
        try c.encode(widthMM, forKey: .widthMM)
        try c.encode(heightMM, forKey: .heightMM)
        try c.encode(rimWidthMM, forKey: .rimWidthMM)
        try c.encode(organisation, forKey: .organisation)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(taxNumber, forKey: .taxNumber)
        try c.encode(color, forKey: .color)
        try c.encodeIfPresent(font, forKey: .font)
        try c.encode(textArcDegrees, forKey: .textArcDegrees)
        try c.encode(inkTexture, forKey: .inkTexture)
        try c.encode(textureSeed, forKey: .textureSeed)
    }
}

/// Square personal seal of a legal representative: characters in a grid read in columns from the
/// right (张三之印 → right column 张三, left column 之印).
public struct SquareSeal: Codable, Sendable, Equatable {
    public var sizeMM: Double = 20
    public var rimWidthMM: Double = 1.0
    /// The 2, 3 or 4 characters (e.g. 张三 or 张三之印).
    public var characters: String
    public var color: SealColor = .officialRed
    public var font: String?
    public var inkTexture: Bool = false
    public var textureSeed: UInt64 = 1

    public init(sizeMM: Double = 20, characters: String) { self.sizeMM = sizeMM; self.characters = characters }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, sizeMM = "size-mm", rimWidthMM = "rim-width-mm", characters, color, font
        case inkTexture = "ink-texture", textureSeed = "texture-seed"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)), in: "a square seal")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        characters = try c.decode(String.self, forKey: .characters)
        sizeMM = try c.decodeIfPresent(Double.self, forKey: .sizeMM) ?? 20
        rimWidthMM = try c.decodeIfPresent(Double.self, forKey: .rimWidthMM) ?? (sizeMM * 0.05)
        color = try c.decodeIfPresent(SealColor.self, forKey: .color) ?? .officialRed
        font = try c.decodeIfPresent(String.self, forKey: .font)
        inkTexture = try c.decodeIfPresent(Bool.self, forKey: .inkTexture) ?? false
        textureSeed = try c.decodeIfPresent(UInt64.self, forKey: .textureSeed) ?? 1
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("square", forKey: .kind)
        try c.encode(sizeMM, forKey: .sizeMM)
        try c.encode(rimWidthMM, forKey: .rimWidthMM)
        try c.encode(characters, forKey: .characters)
        try c.encode(color, forKey: .color)
        try c.encodeIfPresent(font, forKey: .font)
        try c.encode(inkTexture, forKey: .inkTexture)
        try c.encode(textureSeed, forKey: .textureSeed)
    }
}

/// A scanned seal (PNG with an alpha channel) drawn at a given size.
public struct ImageSeal: Codable, Sendable, Equatable {
    /// Path of the PNG (relative paths resolve against the configuration file's folder).
    public var file: String
    public var widthMM: Double = 40
    /// Height; default keeps the image's aspect ratio.
    public var heightMM: Double?

    public init(file: String, widthMM: Double = 40, heightMM: Double? = nil) { self.file = file; self.widthMM = widthMM; self.heightMM = heightMM }

    enum CodingKeys: String, CodingKey, CaseIterable { case kind, file, widthMM = "width-mm", heightMM = "height-mm" }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)), in: "an image seal")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        file = try c.decode(String.self, forKey: .file)
        widthMM = try c.decodeIfPresent(Double.self, forKey: .widthMM) ?? 40
        heightMM = try c.decodeIfPresent(Double.self, forKey: .heightMM)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("image", forKey: .kind)
        try c.encode(file, forKey: .file)
        try c.encode(widthMM, forKey: .widthMM)
        try c.encodeIfPresent(heightMM, forKey: .heightMM)
    }

    /// Resolves `file` against a base folder (the configuration file's folder).
    public func resolved(against base: URL?) -> ImageSeal {
        guard let base, !file.hasPrefix("/") else { return self }
        var copy = self
        copy.file = base.appendingPathComponent(file).path
        return copy
    }
}
