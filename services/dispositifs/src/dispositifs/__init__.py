"""Dispositifs service: PMSMP immersions, MRS sessions and POEI/POEC training."""
