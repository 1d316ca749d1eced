// Pipeline module — see ../shared/DESIGN.md module map.
