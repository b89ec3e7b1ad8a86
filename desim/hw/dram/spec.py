"""Parameters of one DRAM channel and its controller, and the named part presets.

A :class:`DramSpec` describes the device organisation (ranks, bank groups, banks, rows,
columns, device and bus widths, burst length), the JEDEC timing constraints in cycles of
the DRAM command clock (tCK), the physical address mapping, the controller's queues and
policy knobs, and the energy figures of each command. Derived geometry::

    transaction bytes   = bus_width / 8 * burst_length
    burst cycles        = burst_length / 2                 (two beats per clock, DDR)
    devices per rank    = bus_width / device_width
    row bytes per rank  = columns * device_width / 8 * devices per rank
    peak bandwidth      = transaction bytes / (burst cycles * tCK)

Background power is given per rank and power state: active / precharge standby (a bank
open / all banks closed, CKE high), active / precharge power-down (CKE low) and
self-refresh; the controller powers a rank down after ``powerdown_after`` idle cycles and
puts it in self-refresh after ``self_refresh_after`` (0: never), paying ``tXP`` / ``tXS``
before its next command.

Defaults are DDR4-3200 (DRAMSim3's ``DDR4_8Gb_x8_3200.ini`` as run for the reference
figures in ``reference/dram/README.md``, with DRAMSim3's controller: no power-down);
:func:`preset` returns the other parts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from desim.errors import SpecError
from desim.spec import Spec, param

_DS3 = "DRAMSim3 DDR4_8Gb_x8_3200.ini (reference/dram/README.md)"
_IDD = ("from the IDD currents of DRAMSim3 DDR4_8Gb_x8_3200.ini (VDD 1.2 V, IDD0 57, IDD2N 37, "
        "IDD3N 52, IDD4R 168, IDD4W 150, IDD5AB 250 mA per x8 device, 8 devices), "
        "DRAMSim3's energy equations, times tCK")
_DS3_INI = "DRAMSim3's shipped DDR4_8Gb_x8_3200.ini"
_DS3_CTRL = ("DRAMSim3's controller as run for the reference (commit 2981759): no power-down, "
             "enable_self_refresh false")
_LP4 = "DRAMSim3 LPDDR4_8Gb_x16_2400.ini (reference/dram/README.md)"
_S27 = "Infineon (Cypress) S27KS0641 HyperRAM datasheet 001-97964 Rev. *L"

#: address-mapping field names: two letters each, as in DRAMSim3's address_mapping strings
FIELDS = {"ro": "row", "ch": "channel", "ra": "rank", "bg": "bank group", "ba": "bank",
          "co": "column"}


#: the largest timing parameter accepted (tREFI aside), in clock cycles: DDR and LPDDR
#: timings are tens to hundreds of cycles, and a run's cost grows with them
MAX_TIMING_TCK = 100_000


@dataclass(frozen=True)
class DramSpec(Spec):
    """One DRAM channel (devices, JEDEC timings in tCK cycles) and its controller."""

    name: str = param("ddr4_3200", doc="part name, for reports")
    # -- organisation ----------------------------------------------------------------
    ranks: int = param(2, doc="ranks on the channel (power of two)", gt=0, source=_DS3)
    bank_groups: int = param(4, doc="bank groups per rank (power of two)", gt=0, source=_DS3)
    banks_per_group: int = param(4, doc="banks per bank group (power of two)", gt=0,
                                 source=_DS3)
    rows: int = param(65536, doc="rows per bank (power of two)", gt=0, source=_DS3)
    columns: int = param(1024, doc="columns per row of one device (power of two)", gt=0,
                         source=_DS3)
    device_width: int = param(8, unit="bit", doc="data width of one device (x4/x8/x16)", gt=0,
                              source=_DS3)
    bus_width: int = param(64, unit="bit", doc="channel data-bus width", gt=0, source=_DS3)
    burst_length: int = param(8, unit="beats", doc="burst length BL (two beats per tCK)", gt=0,
                              source=_DS3)
    tCK_ns: float = param(0.63, unit="ns", doc="command clock period", gt=0,
                          source=_DS3 + " (DDR4-3200: 1600 MHz, rounded as shipped)")
    # -- JEDEC timings (cycles of tCK) -------------------------------------------------
    CL: int = param(22, unit="tCK", doc="read (CAS) latency", gt=0, source=_DS3)
    CWL: int = param(16, unit="tCK", doc="write latency", gt=0, source=_DS3)
    tRCD: int = param(22, unit="tCK", doc="ACT to READ/WRITE", gt=0, source=_DS3)
    tRP: int = param(22, unit="tCK", doc="PRE to ACT (and to REF)", gt=0, source=_DS3)
    tRAS: int = param(52, unit="tCK", doc="ACT to PRE", gt=0, source=_DS3)
    tRFC: int = param(560, unit="tCK", doc="REF to ACT: a refreshing rank is blocked", gt=0,
                      source=_DS3)
    tREFI: int = param(12480, unit="tCK", doc="refresh interval of one rank", gt=0,
                       source=_DS3)
    tCCD_S: int = param(4, unit="tCK", doc="column to column, different bank group", gt=0,
                        source=_DS3)
    tCCD_L: int = param(8, unit="tCK", doc="column to column, same bank group", gt=0,
                        source=_DS3)
    tRRD_S: int = param(4, unit="tCK", doc="ACT to ACT, different bank group", gt=0,
                        source=_DS3)
    tRRD_L: int = param(8, unit="tCK", doc="ACT to ACT, same bank group", gt=0, source=_DS3)
    tFAW: int = param(34, unit="tCK", doc="window holding at most four ACTs of a rank", gt=0,
                      source=_DS3)
    tWTR_S: int = param(4, unit="tCK", doc="end of write data to READ, different bank group",
                        gt=0, source=_DS3)
    tWTR_L: int = param(12, unit="tCK", doc="end of write data to READ, same bank group",
                        gt=0, source=_DS3)
    tWR: int = param(24, unit="tCK", doc="write recovery: end of write data to PRE", gt=0,
                     source=_DS3)
    tRTP: int = param(12, unit="tCK", doc="READ to PRE", gt=0, source=_DS3)
    tRTRS: int = param(1, unit="tCK", doc="rank-to-rank switch and read/write bus turnaround",
                       gt=0, source=_DS3)
    tPPD: int = param(0, unit="tCK", doc="PRE to PRE in one rank (LPDDR4); 0: no constraint",
                      ge=0, source="JEDEC DDR4 has no tPPD")
    tXP: int = param(10, unit="tCK", gt=0, doc="power-down exit (CKE high) to the next command",
                     source=_DS3_INI)
    tXS: int = param(576, unit="tCK", gt=0, doc="self-refresh exit to the next command",
                     source=_DS3_INI)
    # -- address mapping and controller ------------------------------------------------
    address_mapping: str = param(
        "rochrababgco", doc="physical address fields, MSB to LSB (ro ch ra ba bg co); the "
        "transaction offset bits sit below them", source=_DS3)
    page_policy: str = param("open", doc="open: rows stay open (FR-FCFS row hits); closed: "
                             "auto-precharge after every column command",
                             choices=("open", "closed"), source=_DS3 + " (OPEN_PAGE)")
    refresh: bool = param(True, doc="issue all-bank REF, ranks staggered by tREFI/ranks",
                          source=_DS3 + " (RANK_LEVEL_STAGGERED)")
    read_queue_depth: int = param(32, unit="requests", doc="read transaction queue", gt=0,
                                  source="reference/dram/README.md (trans_queue_size 32)")
    write_buffer_depth: int = param(32, unit="requests", doc="write buffer", gt=0,
                                    source="reference/dram/README.md (trans_queue_size 32)")
    cmd_queue_depth: int = param(8, unit="commands", doc="command queue of each bank", gt=0,
                                 source=_DS3 + " (cmd_queue_size, PER_BANK)")
    write_drain_threshold: int = param(
        8, unit="requests", ge=0, doc="with every command queue empty, start draining writes "
        "once more than this many are buffered (a full buffer always drains)",
        source="DRAMSim3 controller write-drain rule (commit 2981759)")
    row_hit_cap: int = param(
        4, unit="column commands", gt=0, doc="a row conflict may precharge once its open row "
        "served this many column commands, even with more hits queued",
        source="DRAMSim3 command-queue precharge arbitration (commit 2981759)")
    powerdown_after: int = param(
        0, unit="tCK", ge=0, doc="idle cycles of a rank (no command queued for it) after which "
        "the controller powers it down (CKE low); 0: never", source=_DS3_CTRL)
    self_refresh_after: int = param(
        0, unit="tCK", ge=0, doc="idle cycles of a rank after which the controller precharges "
        "it and enters self-refresh (no REF needed while there); 0: never", source=_DS3_CTRL)
    # -- energy ------------------------------------------------------------------------
    energy_act_pj: float = param(
        4233.6, unit="pJ", ge=0, doc="one ACT-PRE pair of a rank",
        source="VDD*(IDD0*tRC - IDD3N*tRAS - IDD2N*tRP)*8*tCK, " + _IDD)
    energy_read_pj: float = param(
        2806.27, unit="pJ", ge=0, doc="one read burst of a rank",
        source="VDD*(IDD4R-IDD3N)*BL/2*8*tCK, " + _IDD)
    energy_write_pj: float = param(
        2370.82, unit="pJ", ge=0, doc="one write burst of a rank",
        source="VDD*(IDD4W-IDD3N)*BL/2*8*tCK, " + _IDD)
    energy_ref_pj: float = param(
        670602.24, unit="pJ", ge=0, doc="one all-bank REF of a rank",
        source="VDD*(IDD5AB-IDD3N)*tRFC*8*tCK, " + _IDD)
    power_active_standby_mw: float = param(
        499.2, unit="mW", ge=0, doc="background power of a rank with a bank open",
        source="VDD*IDD3N*8, " + _IDD)
    power_precharge_standby_mw: float = param(
        355.2, unit="mW", ge=0, doc="background power of a rank with all banks closed",
        source="VDD*IDD2N*8, " + _IDD)
    power_active_powerdown_mw: float = param(
        412.8, unit="mW", ge=0, doc="background power of a rank powered down with a bank open",
        source="VDD*IDD3P*8, IDD3P 43 mA per x8 device, VDD 1.2 V, " + _DS3_INI)
    power_precharge_powerdown_mw: float = param(
        240.0, unit="mW", ge=0, doc="background power of a rank powered down, banks closed",
        source="VDD*IDD2P*8, IDD2P 25 mA per x8 device, VDD 1.2 V, " + _DS3_INI)
    power_self_refresh_mw: float = param(
        288.0, unit="mW", ge=0, doc="power of a rank in self-refresh (its refresh included)",
        source="VDD*IDD6x*8, IDD6x 30 mA per x8 device, VDD 1.2 V, " + _DS3_INI)

    @classmethod
    def from_preset(cls, name: str) -> DramSpec:
        """The spec of a named part (``--set dram=NAME``); see :func:`preset`."""
        return preset(name)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if (f.metadata.get("unit") == "tCK" and f.name != "tREFI"
                    and isinstance(value, int) and value > MAX_TIMING_TCK):
                raise SpecError(f"{f.name} = {value} tCK is beyond any DRAM part (timings are "
                                f"tens to hundreds of cycles); give at most "
                                f"{MAX_TIMING_TCK:,}")
        for name in ("ranks", "bank_groups", "banks_per_group", "rows", "columns",
                     "burst_length"):
            value = getattr(self, name)
            if value & (value - 1):
                raise SpecError(f"{name} must be a power of two (address bits are decoded by "
                                f"field), got {value}")
        if self.burst_length < 2:
            raise SpecError(f"burst_length must be >= 2 beats (two per tCK), got "
                            f"{self.burst_length}")
        if self.bus_width % 8 or self.bus_width % self.device_width:
            raise SpecError(f"bus_width {self.bus_width} must be a multiple of 8 and of "
                            f"device_width {self.device_width}; set a whole number of devices")
        if self.columns < self.burst_length:
            raise SpecError(f"columns ({self.columns}) must be >= burst_length "
                            f"({self.burst_length}): a burst cannot span rows")
        txn = self.txn_bytes
        if txn & (txn - 1):
            raise SpecError(f"transaction size bus_width/8*burst_length = {txn} B must be a "
                            "power of two; change bus_width or burst_length")
        if self.refresh and self.tREFI // self.ranks <= self.tRFC:
            raise SpecError(f"tREFI ({self.tREFI}) / ranks must exceed tRFC ({self.tRFC}): a "
                            "rank would refresh forever; raise tREFI or set refresh=false")
        self.field_bits()  # validates address_mapping

    # -- derived geometry --------------------------------------------------------------

    @property
    def txn_bytes(self) -> int:
        """Bytes moved by one burst (one controller transaction)."""
        return self.bus_width // 8 * self.burst_length

    @property
    def burst_cycles(self) -> int:
        """tCK cycles one burst occupies the data bus."""
        return self.burst_length // 2

    @property
    def banks(self) -> int:
        """Banks in the whole channel (all ranks)."""
        return self.ranks * self.bank_groups * self.banks_per_group

    @property
    def row_bytes(self) -> int:
        """Bytes of one row across the devices of a rank."""
        return self.columns * self.device_width // 8 * (self.bus_width // self.device_width)

    @property
    def capacity_bytes(self) -> int:
        return self.banks * self.rows * self.row_bytes

    @property
    def area_mm2(self) -> float:
        """Silicon area on the SoC die: 0, the devices are off chip (the controller's PHY
        is not modelled)."""
        return 0.0

    @property
    def freq_hz(self) -> int:
        """Command clock frequency (1 / tCK)."""
        return round(1e9 / self.tCK_ns)

    @property
    def peak_gbps(self) -> float:
        """Data-bus peak bandwidth in GB/s (1e9 bytes per second)."""
        return self.txn_bytes / (self.burst_cycles * self.tCK_ns)

    def field_bits(self) -> list[tuple[str, int]]:
        """The mapping's fields MSB to LSB with their widths in bits (channel: 0 bits)."""
        text = self.address_mapping
        tokens = [text[i:i + 2] for i in range(0, len(text), 2)]
        if len(text) % 2 or any(t not in FIELDS for t in tokens):
            bad = next((t for t in tokens if t not in FIELDS), text)
            raise SpecError(f"address_mapping '{text}': unknown field '{bad}'; use two-letter "
                            "fields " + ", ".join(f"{k} ({v})" for k, v in FIELDS.items()))
        for t in set(tokens):
            if tokens.count(t) > 1:
                raise SpecError(f"address_mapping '{text}': field '{t}' ({FIELDS[t]}) appears "
                                f"{tokens.count(t)} times; give each field once")
        widths = {"ro": self.rows, "ch": 1, "ra": self.ranks, "bg": self.bank_groups,
                  "ba": self.banks_per_group, "co": self.columns // self.burst_length}
        for t in ("ro", "ra", "bg", "ba", "co"):
            if t not in tokens:
                raise SpecError(f"address_mapping '{text}' does not cover the {FIELDS[t]} bits: "
                                f"add the field '{t}'")
        return [(t, widths[t].bit_length() - 1) for t in tokens]


def _lpddr4_2400() -> DramSpec:
    # LPDDR4-2400, DRAMSim3 LPDDR4_8Gb_x16_2400.ini as listed in reference/dram/README.md
    # (tXP 6 and tXS 432 from the ini itself). Command energies: no LPDDR4 IDD table in the
    # ini (it holds DDR4-class currents on one 1.2 V rail); the DDR4-3200 figures scaled to
    # VDD2 1.1 V and to this organisation (ACT: same 8 KiB rank row; read/write: per bit
    # moved; REF: per device). An estimate, stated as such in docs/models/dram.md.
    # Background: JEDEC LPDDR4 8Gb x16 currents per VDD domain (VDD1 1.8 V, VDD2 1.1 V;
    # VDDQ left out as the I/O rail), 4 x16 devices per rank.
    v = 1.1 / 1.2
    devices = 4

    def mw(vdd1_ma: float, vdd2_ma: float) -> float:
        return round(devices * (1.8 * vdd1_ma + 1.1 * vdd2_ma), 4)

    spec = DramSpec(
        name="lpddr4_2400", ranks=2, bank_groups=2, banks_per_group=4, rows=65536,
        columns=1024, device_width=16, bus_width=64, burst_length=16, tCK_ns=0.83,
        CL=17, CWL=14, tRCD=15, tRP=15, tRAS=32, tRFC=392, tREFI=8660, tCCD_S=4, tCCD_L=6,
        tRRD_S=8, tRRD_L=8, tFAW=32, tWTR_S=8, tWTR_L=16, tWR=30, tRTP=12, tRTRS=1, tPPD=2,
        tXP=6, tXS=432, powerdown_after=512,
        energy_act_pj=round(4233.6 * v, 2), energy_read_pj=round(2806.27 * 2 * v, 2),
        energy_write_pj=round(2370.82 * 2 * v, 2), energy_ref_pj=round(670602.24 * v / 2, 2),
        power_active_standby_mw=mw(2.25, 30.0), power_precharge_standby_mw=mw(2.0, 27.0),
        power_active_powerdown_mw=mw(1.2, 9.0), power_precharge_powerdown_mw=mw(1.2, 3.0),
        power_self_refresh_mw=mw(0.3, 0.5))
    est = "estimate, not from an LPDDR4 datasheet: the DDR4-3200 figure times VDD2/VDD (1.1/1.2)"
    jedec = ("JEDEC LPDDR4 8Gb x16 currents per VDD domain, DRAMSys memspec "
             "JEDEC_8Gb_LPDDR4-3200_16bit.json (tukl-msd/DRAMSys): 4 devices x (1.8 V x IDD{0}1 "
             "+ 1.1 V x IDD{0}2) = 4 x (1.8 x {1} + 1.1 x {2}) mA; in place of "
             "LPDDR4_8Gb_x16_2400.ini's IDD{0}, a DDR4-class current on one 1.2 V rail")
    return spec.cite(
        name=_LP4,
        **dict.fromkeys(("ranks", "bank_groups", "banks_per_group", "rows", "columns",
                         "device_width", "bus_width", "burst_length", "tCK_ns", "CL", "CWL",
                         "tRCD", "tRP", "tRAS", "tRFC", "tREFI", "tCCD_S", "tCCD_L", "tFAW",
                         "tWTR_S", "tWTR_L", "tWR", "tRTP", "tPPD"), _LP4),
        tXP="DRAMSim3's shipped LPDDR4_8Gb_x16_2400.ini: tXP 6",
        tXS="DRAMSim3's shipped LPDDR4_8Gb_x16_2400.ini: tXS 432",
        tRRD_S=_LP4 + " (its one tRRD)", tRRD_L=_LP4 + " (its one tRRD)",
        powerdown_after=(
            "Synopsys uMCTL2 DDR/LPDDR controller: PWRTMG.powerdown_to_x32 reset value 16 x 32 "
            "cycles (Microchip SAMA7G5 UDDRC_PWRTMG; 1:1 DFI clock assumed), power-down "
            "enabled as an embedded LPDDR4 system's firmware does (assumed); DRAMSim3's "
            "LPDDR4_8Gb_x16_2400.ini sets no policy"),
        self_refresh_after=("off: uMCTL2 PWRCTL.selfref_en resets to 0 (Microchip SAMA7G5 "
                            "UDDRC_PWRCTL); optional"),
        energy_act_pj=est + " (same 8 KiB rank row)",
        energy_read_pj=est + ", per bit moved (twice the burst)",
        energy_write_pj=est + ", per bit moved (twice the burst)",
        energy_ref_pj=est + ", per device (4 instead of 8)",
        power_active_standby_mw=jedec.format("3N", 2.25, 30),
        power_precharge_standby_mw=jedec.format("2N", 2.0, 27),
        power_active_powerdown_mw=jedec.format("3P", 1.2, 9),
        power_precharge_powerdown_mw=jedec.format("2P", 1.2, 3),
        power_self_refresh_mw=jedec.format("6", 0.3, 0.5))


def _hyperram() -> DramSpec:
    # Cypress/Infineon S27KS0641 HyperRAM (1.8 V, 64 Mb), datasheet 001-97964 Rev. *L, at its
    # 166 MHz maximum clock (tCK 6 ns), as on GAP8-class boards. One 8-bit DDR HyperBus
    # device: one rank, one bank. Every HyperBus transaction sends a 3-cycle command/address
    # (CA) phase, waits the initial latency, then streams data: modelled as ACT (CA phase,
    # tRCD 3) + READ/WRITE (CL = CWL = 12: the default fixed 2x latency of 6 clocks =
    # tACC 36 ns) with auto-precharge (closed page), CS# recovery tRWR 36 ns = tRP 6.
    # One transaction is a 64 B burst (BL 64 beats = 32 clocks). Refresh is internal to the
    # device and its collisions are covered by the fixed 2x latency, so refresh=False.
    # Constraints that do not exist on a one-bank device are set to 1 (never binding).
    # Energy: burst read/write current 60 mA max at 166 MHz, 1.8 V (108 mW) over the busy
    # clocks; standby 300 uA (0.54 mW, CS# high, max at 105 C), which includes the device's
    # own refresh; Deep Power Down 20 uA (36 uW), left off: software enters it, not an
    # idle timer.
    busy_mw = 1.8 * 60.0
    spec = DramSpec(
        name="hyperram", ranks=1, bank_groups=1, banks_per_group=1, rows=8192, columns=1024,
        device_width=8, bus_width=8, burst_length=64, tCK_ns=6.0,
        CL=12, CWL=12, tRCD=3, tRP=6, tRAS=3, tRFC=1, tREFI=1 << 30, tCCD_S=1, tCCD_L=1,
        tRRD_S=1, tRRD_L=1, tFAW=4, tWTR_S=1, tWTR_L=1, tWR=1, tRTP=12 + 32, tRTRS=1,
        address_mapping="rochrababgco", page_policy="closed", refresh=False,
        energy_act_pj=round(busy_mw * (3 + 12) * 6.0, 2),
        energy_read_pj=round(busy_mw * 32 * 6.0, 2), energy_write_pj=round(busy_mw * 32 * 6.0, 2),
        energy_ref_pj=0.0, power_active_standby_mw=0.54, power_precharge_standby_mw=0.54,
        power_active_powerdown_mw=0.036, power_precharge_powerdown_mw=0.036,
        power_self_refresh_mw=0.54, tXP=1, tXS=1)
    one_bank = _S27 + ": one bank, so the rule never binds"
    no_refresh = _S27 + ": self-refreshing, collisions absorbed by the fixed 2x latency"
    burst = _S27 + ": 60 mA max burst current at 166 MHz, 1.8 V (108 mW), times "
    standby = _S27 + ": 300 uA standby current (CS# high, 1.8 V, max at 105 C)"
    dpd = _S27 + ": 20 uA Deep Power Down current at 1.8 V (max at 105 C)"
    unused = (_S27 + ": assumed 1, unused while the controller never enters Deep Power Down; "
              "set the datasheet's exit time before enabling powerdown_after")
    return spec.cite(
        name=_S27, **dict.fromkeys(("ranks", "bank_groups", "banks_per_group"),
                                   _S27 + ": one device"),
        rows=_S27 + ": 8192 rows of 1 KiB", columns=_S27 + ": 1 KiB rows of a x8 device",
        device_width=_S27 + ": 8-bit HyperBus", bus_width=_S27 + ": 8-bit HyperBus",
        burst_length=_S27 + ": 64 B transaction, two beats per clock",
        tCK_ns=_S27 + ": 166 MHz maximum clock",
        CL=_S27 + ": default fixed 2x initial latency of 6 clocks (tACC 36 ns)",
        CWL=_S27 + ": default fixed 2x initial latency of 6 clocks (tACC 36 ns)",
        tRCD=_S27 + ": 3-clock (48-bit) command-address phase",
        tRAS=_S27 + ": 3-clock (48-bit) command-address phase",
        tRP=_S27 + ": read-write recovery tRWR 36 ns",
        tRTP=_S27 + ": CS# held to the last beat, CL + BL/2",
        tRFC=no_refresh, tREFI=no_refresh, refresh=no_refresh,
        **dict.fromkeys(("tCCD_S", "tCCD_L", "tRRD_S", "tRRD_L", "tFAW", "tWTR_S", "tWTR_L",
                         "tWR"), one_bank),
        address_mapping=_S27 + ": row and column address of one device",
        page_policy=_S27 + ": every transaction sends its command-address phase",
        energy_act_pj=burst + "the CA phase and initial latency (15 clocks)",
        energy_read_pj=burst + "the 32 data clocks", energy_write_pj=burst + "the 32 data clocks",
        energy_ref_pj=no_refresh, power_active_standby_mw=standby,
        power_precharge_standby_mw=standby, power_active_powerdown_mw=dpd,
        power_precharge_powerdown_mw=dpd,
        power_self_refresh_mw=standby + "; the device refreshes itself in standby",
        powerdown_after=_S27 + ": Deep Power Down is entered by software, not after an idle "
        "time; assumed never during a workload",
        self_refresh_after=no_refresh, tXP=unused, tXS=unused)


_PRESETS = {"ddr4_3200": DramSpec, "lpddr4_2400": _lpddr4_2400, "hyperram": _hyperram}

#: names accepted by :func:`preset`
PRESETS: tuple[str, ...] = tuple(_PRESETS)


def preset(name: str) -> DramSpec:
    """The named part's spec (``ddr4_3200``, ``lpddr4_2400`` or ``hyperram``)."""
    try:
        return _PRESETS[name]()
    except KeyError:
        raise SpecError(f"unknown DRAM preset '{name}'; valid presets: "
                        + ", ".join(PRESETS)) from None
