"""Topics: a channel as one audience sees it.

Threats and system status are the same for every key, so their topic is the
channel's name. VR sessions belong to an owner: a key reads the topic of its
own owner, and an ADMIN key the topic of every owner's sessions. Each topic
has its own subscribers and its own sequence numbers.
"""

from __future__ import annotations

from chalicelib.realtime.frames import Channel

EVERY_OWNER = "*"


def topic_for(channel: Channel, owner_id: str, is_admin: bool) -> str:
    """Return the topic a key with this owner reads for ``channel``."""
    if channel is Channel.VR_SESSIONS:
        return f"{channel.value}:{EVERY_OWNER if is_admin else owner_id}"
    return channel.value


def topics_of_update(channel: Channel, owner_id: str | None) -> list[str]:
    """Return the topics an update on ``channel`` about ``owner_id`` goes to."""
    if channel is Channel.VR_SESSIONS:
        audiences = [EVERY_OWNER] if owner_id is None else [owner_id, EVERY_OWNER]
        return [f"{channel.value}:{audience}" for audience in audiences]
    return [channel.value]
