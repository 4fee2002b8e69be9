"""The topics a daemon serves: the built-in ones and those its plugins add.

A plugin adds an output by naming an ``OutputTopic`` in its ``produces``; nothing else is
edited. The daemon builds one ``TopicRegistry`` from its plugins' classes and hands it to
the WebSocket side, which resolves the names clients subscribe to through it and lists them
in the hello. It is a value built once per daemon, not a global: two daemons in one process
(the tests) each have their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

from eegd.errors import PluginError, ProtocolError
from eegd.events import AnyTopic, FrameKind, OutputTopic, Topic

__all__ = ["MESSAGE_TYPES", "TopicRegistry"]

#: The ``type`` of every JSON message the server sends besides topic events: a text topic's
#: messages are typed by its label, so no topic may take one of these.
MESSAGE_TYPES: Final = frozenset(
    {"hello", "subscribed", "unsubscribed", "pong", "error", "system", "marker", "dropped", "done"}
)
_LABEL: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_WIRE_IDS: Final = range(128, 256)


class TopicRegistry:
    """The built-in topics and the ``OutputTopic``s of some plugins, by label.

    Building it checks each added topic: a lower-case label of at most 32 characters that
    no built-in topic or server message uses, a ``wire_id`` in 128-255 for a binary topic
    only, and no two topics with one label or one wire id. A bad one raises ``PluginError``
    naming its plugin.
    """

    def __init__(self, added: Iterable[tuple[str, OutputTopic]] = ()) -> None:
        self._topics: dict[str, AnyTopic] = {topic.label: topic for topic in Topic}
        self._owners: dict[str, str] = {}
        wire_ids: dict[int, str] = {}
        for plugin, topic in added:
            known = self._topics.get(topic.label)
            if known == topic and self._owners.get(topic.label) == plugin:
                continue
            problem = _problem(topic, known, self._owners.get(topic.label), wire_ids)
            if problem is not None:
                raise PluginError(f"plugin {plugin!r}: topic {topic.label!r}: {problem}")
            self._topics[topic.label] = topic
            self._owners[topic.label] = plugin
            if topic.wire_id is not None:
                wire_ids[topic.wire_id] = topic.label

    @classmethod
    def of_plugins(cls, produces: Iterable[tuple[str, Iterable[AnyTopic]]]) -> TopicRegistry:
        """The registry of the ``OutputTopic``s among each plugin's ``produces``."""
        return cls(
            (plugin, topic)
            for plugin, topics in produces
            for topic in topics
            if isinstance(topic, OutputTopic)
        )

    def __iter__(self) -> Iterator[AnyTopic]:
        return iter(self._topics.values())

    def __contains__(self, topic: object) -> bool:
        return isinstance(topic, Topic | OutputTopic) and self._topics.get(topic.label) == topic

    @property
    def labels(self) -> tuple[str, ...]:
        """Every topic's label: the built-ins in id order, then the added ones."""
        return tuple(self._topics)

    def from_label(self, label: str) -> AnyTopic:
        """The topic a client names (matched without regard to case); ``ProtocolError``
        listing the known ones when there is none."""
        topic = self._topics.get(label.lower())
        if topic is None:
            raise ProtocolError(f"unknown topic {label!r} (allowed: {', '.join(self.labels)})")
        return topic

    def owner(self, topic: AnyTopic) -> str | None:
        """The plugin that added ``topic``; None for a built-in one."""
        return self._owners.get(topic.label)


def _problem(
    topic: OutputTopic, known: AnyTopic | None, owner: str | None, wire_ids: dict[int, str]
) -> str | None:
    """What is wrong with adding ``topic``, or None."""
    if _LABEL.fullmatch(topic.label) is None:
        return "a label is 1-32 lower-case letters, digits and '_', starting with a letter"
    if isinstance(known, Topic) or topic.label in MESSAGE_TYPES:
        return "the name is taken by the protocol"
    if known is not None:
        return f"plugin {owner!r} adds a topic of that name already"
    if not topic.frames_per_s > 0:
        return f"frames_per_s must be positive, not {topic.frames_per_s!r}"
    if topic.frame is FrameKind.TEXT:
        return None if topic.wire_id is None else "a text topic has no wire_id"
    if topic.wire_id not in _WIRE_IDS:
        return f"a binary topic needs a wire_id in 128-255, not {topic.wire_id!r}"
    if topic.wire_id in wire_ids:
        return f"wire_id {topic.wire_id} is topic {wire_ids[topic.wire_id]!r}'s"
    return None
