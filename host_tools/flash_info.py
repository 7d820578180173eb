"""`hushkit info`: what answers on the port, the bootloader or the application, and its slots.

    {"mode": "application", "target": "qemu-m4", "model_sha256": "...", "slots": [...], ...}
"""

from __future__ import annotations

import json

from hushkit import flash_layout
from hushkit import protocol as p
from hushkit.client import DeviceClient, DeviceError
from hushkit.flash_client import FlashClient, Identity, parse_identity, security_counter


def identity(client: DeviceClient) -> Identity | None:
    """IDENTIFY, or None from a firmware that predates it."""
    try:
        return parse_identity(client.transact(p.Opcode.IDENTIFY))
    except DeviceError as exc:
        if exc.status == p.Status.UNKNOWN_OPCODE:
            return None
        raise


def describe(client: DeviceClient) -> dict:
    ident = identity(client)
    out: dict = {"mode": "application"}
    if ident is not None:
        out["mode"] = ident.mode.name.lower()
        out["target"] = ident.target
        if ident.mode == p.BootMode.BOOTLOADER:
            out["bootloader"] = ident.boot_version
            out["reason"] = ident.reason.name.lower()
        try:
            names = [r.name for r in flash_layout.get(ident.target).regions]
        except ValueError:
            names = []
        slots = []
        for s in ident.slots:
            d = s.as_dict()
            d["name"] = names[s.index] if s.index < len(names) else f"region{s.index}"
            d["kind"] = flash_layout.SlotKind(s.kind).name.lower()
            slots.append(d)
        out["slots"] = slots
        out["running_slot"] = (
            slots[ident.running_slot]["name"] if ident.running_slot is not None else None
        )
        out["flash_ops"] = ident.flash_ops
        out["security_counter"] = security_counter(client) if ident.slots else None
    if out["mode"] == "application":
        info = client.info()
        out["target"] = info.target
        out["fw_version"] = info.fw_version
        out["model_sha256"] = info.model_sha256
        out["model_loaded"] = info.model_loaded
        out["_info"] = info
    return out


def show(client: DeviceClient, as_json: bool, format_app) -> int:
    desc = describe(client)
    info = desc.pop("_info", None)
    if as_json:
        print(json.dumps(desc, indent=2))
        return 0
    lines = [f"mode              {desc['mode']}"]
    if info is not None:
        lines.append(format_app(info))
    else:
        lines.append(f"target            {desc['target']}")
        lines.append(f"bootloader        {desc['bootloader']} (staying because: {desc['reason']})")
    for s in desc.get("slots", []):
        if s["kind"] in ("app", "model"):
            image = f"{s['version']} sha256 {s['image_hash'][:16]}…" if s["image_hash"] else "-"
            lines.append(f"slot {s['name']:<12} {s['state']:<10} {image}")
    counter = desc.get("security_counter")
    if counter is not None and counter["keyed"]:
        left = counter["capacity"] - counter["records"]
        lines.append(f"security counter  {counter['value']} ({left} raises left)")
    print("\n".join(lines))
    return 0


__all__ = ["FlashClient", "describe", "identity", "show"]
