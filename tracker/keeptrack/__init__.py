"""KeepTrack (Mayer et al., ICCV 2021) engine: tracking logic here, networks in tracker/nets.

Parts contract: tracker/keeptrack/parts.py; parameters: tracker/keeptrack/params.py; engine: engine.py.
"""
