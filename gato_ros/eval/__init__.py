"""Rollouts of models and the expert: through the full stacking graph over DDS (graph_eval.py), in-process through
the same SafetyFilter loop (direct.py), the scripted expert's success rate (expert.py), DAgger relabelling of model
rollouts (dagger.py); staged progress and statistics (stages.py, stats.py)."""
