"""The routing table: full-rate and enveloped clients, shared groups, nothing left behind."""

from __future__ import annotations

from eegd.events import Topic
from eegd.net.stream.routing import RoutingTable


def test_clients_with_the_same_max_rate_share_one_group() -> None:
    table = RoutingTable()
    table.add(1, Topic.FILTERED_EEG, 250)
    table.add(2, Topic.FILTERED_EEG, 250)
    table.add(3, Topic.FILTERED_EEG, 100)
    table.add(4, Topic.FILTERED_EEG)
    groups = list(table.envelope_groups(Topic.FILTERED_EEG))
    assert sorted(group.decimator.max_rate for group in groups) == [100, 250]
    assert {frozenset(group.client_ids) for group in groups} == {
        frozenset({1, 2}),
        frozenset({3}),
    }
    assert table.full_rate(Topic.FILTERED_EEG) == {4}
    assert table.clients(Topic.FILTERED_EEG) == 4


def test_resubscribing_moves_a_client_between_full_rate_and_envelope() -> None:
    table = RoutingTable()
    table.add(1, Topic.RAW_EEG, 250)
    table.add(1, Topic.RAW_EEG)
    assert table.full_rate(Topic.RAW_EEG) == {1}
    assert list(table.envelope_groups(Topic.RAW_EEG)) == []
    table.add(1, Topic.RAW_EEG, 50)
    assert table.full_rate(Topic.RAW_EEG) == set()
    assert table.clients(Topic.RAW_EEG) == 1


def test_max_rate_on_a_topic_without_samples_means_full_rate() -> None:
    table = RoutingTable()
    table.add(7, Topic.FFT, 10)
    assert table.full_rate(Topic.FFT) == {7}


def test_removing_the_last_client_leaves_the_topic_unwanted() -> None:
    table = RoutingTable()
    table.add(1, Topic.FILTERED_EEG, 250)
    table.add(2, Topic.FFT)
    assert table.wanted(Topic.FILTERED_EEG)
    table.remove(1, Topic.FILTERED_EEG)
    table.remove(2, Topic.FFT)
    assert not table.wanted(Topic.FILTERED_EEG)
    assert not table.wanted(Topic.FFT)
    assert list(table.envelope_groups(Topic.FILTERED_EEG)) == []
