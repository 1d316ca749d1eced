// The strict decoding helpers (unknown keys refused, errors naming the JSON path) and the seal
// design type live in SealModel, which the registry (Governance) reads too; Render re-exports them.
@_exported import SealModel
