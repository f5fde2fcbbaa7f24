"""Figures, all in one style (style): class activation maps (cam), attention context
(context), training curves (curves), accuracy against the published (scatter) and the
critical-difference diagram (cd_diagram)."""
