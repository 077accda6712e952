"""KeepTrack (Mayer et al., ICCV 2021) engine: tracking logic here, networks in tracker/nets.

Parts contract: parts.py; parameters: params.py; engines by name: profiles.py; coordinates: geometry.py;
the pipeline: engine.py (state: engine.TrackState).
"""
