"""Backbones for dense prediction: every stage map a features_only model returns (drawn models,
drawn out_indices), PYNATIVE and GRAPH."""
from hypothesis import given

from parity.budget import examples
from parity.checks import check_features
from parity.strategies import feature_configs


@examples(5)
@given(feature_configs())
def test_every_returned_stage_map(config):
    check_features(config)


@examples(2)
@given(feature_configs())
def test_every_returned_stage_map_graph_mode(config):
    check_features(config, graph=True)
