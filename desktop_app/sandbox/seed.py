"""The demo company: "Lone Star Comfort & Plumbing", a Texas HVAC and plumbing contractor.

`build_company(seed)` fills both simulators' states the same way every time for the same seed:
five branches, technicians, a pricebook with vendors, ServiceTitan purchase orders and inventory
adjustments, the matching SYSPRO masters, and a month of service invoices. The starter mappings
cover most but not all of it on purpose, so the demo shows invoices waiting for a mapping.

The data is awkward where real data is: names with `&`, apostrophes and accents, a cost of
19.995 bought three at a time, a third of a foot of pipe, zero-cost warranty parts, adjustment
invoices with negative totals, vendors that exist on one side only.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from desktop_app.sandbox.st_state import StState, cents, recompute_invoice_item, recompute_invoice_totals
from desktop_app.sandbox.syspro_state import SysproState

D = Decimal
COMPANY = "Lone Star Comfort & Plumbing, LLC"
TAX_RATE = D("0.0825")

# key, ST name, SYSPRO supplier (None: ST only), mapped in the starter mappings, active
VENDORS = [
    ("JOH", "Johnstone Supply & Co", "JOHNST", True, True),
    ("FER", "Ferguson's Plumbing Supply", "FERGUS", True, True),
    ("MUL", "Müller HVAC Parts", "MULLER", True, True),
    ("CAR", "Carrier Enterprise", "CARENT", True, True),
    ("GEM", "Watsco / Gemaire", "GEMAIR", True, True),
    ("HAJ", "Hajoca Corp.", "HAJOCA", True, True),
    ("LEN", "Lennox PartsPlus", "LENNOX", True, True),
    ("RBW", "R&B Wholesale Distributors", "RBWHOL", False, True),
    ("LSC", "Lone Star Copper & Tube", None, False, True),
    ("OLD", "Old Town Supply (closed)", None, False, False),
]
SYSPRO_ONLY_SUPPLIERS = [("GRAING", "W.W. Grainger, Inc."), ("FASTEN", "Fastenal Company")]

# name, SYSPRO branch, GL segment, city, zip, trade
BRANCHES = [
    ("Dallas HVAC", "DAL", "10", "Dallas", "75201", "HVAC"),
    ("Fort Worth HVAC", "FTW", "20", "Fort Worth", "76102", "HVAC"),
    ("Austin Plumbing", "AUS", "30", "Austin", "78701", "Plumbing"),
    ("Houston HVAC", "HOU", "40", "Houston", "77002", "HVAC"),
    ("San Antonio Plumbing", "SAT", "50", "San Antonio", "78205", "Plumbing"),
]
TECHNICIANS = [
    ("Patrick", "O'Connor", 0), ("José", "Muñoz", 0), ("Maria", "García", 1), ("Tom", "Nguyen", 1),
    ("Luis", "Hernández", 2), ("Sarah", "Kim", 2), ("Bobby Ray", "Jenkins", 3), ("Mike", "D'Angelo", 3),
    ("Wei", "Chen", 3), ("Ana Sofía", "Ortiz", 4), ("Darnell", "Washington", 4), ("Kevin", "Brooks", 0),
]

# code, name, unit, cost, vendor key, cost-of-sale GL
MATERIALS = [
    ("CAP-35-5", "Dual Run Capacitor 35/5 MFD 440V", "EA", "18.75", "JOH"),
    ("CAP-45-5", "Dual Run Capacitor 45/5 MFD 440V", "EA", "21.40", "JOH"),
    ("CAP-10", "Run Capacitor 10 MFD 370V", "EA", "9.85", "MUL"),
    ("CONT-1P-30", "Contactor 1-Pole 30A 24V Coil", "EA", "14.20", "JOH"),
    ("CONT-2P-40", "Contactor 2-Pole 40A 24V Coil", "EA", "22.60", "MUL"),
    ("FM-1/3HP", "Condenser Fan Motor 1/3 HP 1075 RPM", "EA", "118.00", "CAR"),
    ("FM-1/4HP", "Condenser Fan Motor 1/4 HP 825 RPM", "EA", "96.50", "GEM"),
    ("BLW-1/2HP", "Blower Motor 1/2 HP ECM", "EA", "412.00", "LEN"),
    ("TSTAT-T6", "Honeywell T6 Pro Programmable Thermostat", "EA", "74.95", "JOH"),
    ("TSTAT-ECO", "ecobee Smart Thermostat Premium", "EA", "189.99", "GEM"),
    ("FLT-16X25X1", "Pleated Filter 16x25x1 MERV 8", "EA", "4.35", "JOH"),
    ("FLT-20X25X4", "Media Filter 20x25x4 MERV 11", "EA", "27.80", "MUL"),
    ("R410A-LB", "Refrigerant R-410A (per lb)", "LB", "11.40", "CAR"),
    ("R454B-LB", "Refrigerant R-454B (per lb)", "LB", "19.995", "CAR"),
    ("R22-LB", "Refrigerant R-22 Reclaimed (per lb)", "LB", "64.00", "GEM"),
    ("DRIER-083", "Filter Drier 3/8\" Flare", "EA", "12.15", "MUL"),
    ("TXV-3T", "TXV Valve 3 Ton R-410A", "EA", "88.40", "CAR"),
    ("IGN-HSI", "Hot Surface Igniter", "EA", "32.10", "MUL"),
    ("FLS-UNIV", "Universal Flame Sensor", "EA", "11.75", "JOH"),
    ("PRS-SW", "Pressure Switch 0.55\" WC", "EA", "27.30", "LEN"),
    ("GV-VR8205", "Gas Valve Honeywell VR8205", "EA", "96.00", "JOH"),
    ("DFB-50", "Defrost Control Board", "EA", "138.60", "CAR"),
    ("WHIP-3/4-6", "Liquid-Tight Whip 3/4\" x 6'", "EA", "16.90", "RBW"),
    ("DISC-60A", "AC Disconnect 60A Non-Fused", "EA", "13.45", "RBW"),
    ("PAD-24X24", "Condenser Pad 24x24x3", "EA", "22.00", "RBW"),
    ("COND-PUMP", "Condensate Pump 1/30 HP", "EA", "54.90", "JOH"),
    ("FLOAT-SW", "Condensate Float Switch", "EA", "18.20", "MUL"),
    ("LINESET-25", "Line Set 3/8 x 7/8 25 ft", "EA", "129.00", "LSC"),
    ("CU-ACR-7/8", "ACR Copper 7/8\" (per ft)", "FT", "6.33", "LSC"),
    ("CU-ACR-3/8", "ACR Copper 3/8\" (per ft)", "FT", "2.10", "LSC"),
    ("TAPE-FOIL", "Foil Tape 2.5\" x 60 yd", "EA", "12.40", "JOH"),
    ("MASTIC-GAL", "Duct Mastic 1 gal", "EA", "17.85", "GEM"),
    ("FLEX-6", "Flex Duct 6\" x 25'", "EA", "38.50", "GEM"),
    ("BRAZE-15", "Brazing Rod 15% Silver (per rod)", "EA", "3.125", "MUL"),
    ("WH-ANODE", "Water Heater Anode Rod", "EA", "24.60", "FER"),
    ("WH-TPV", "T&P Relief Valve 3/4\"", "EA", "16.35", "FER"),
    ("WH-THERMO", "Water Heater Thermocouple 24\"", "EA", "8.90", "HAJ"),
    ("WH-ELEM-4500", "Heating Element 4500W 240V", "EA", "19.40", "FER"),
    ("PEX-1/2-100", "PEX-A Pipe 1/2\" x 100 ft", "EA", "54.00", "HAJ"),
    ("PEX-3/4-FT", "PEX-A Pipe 3/4\" (per ft)", "FT", "0.98", "FER"),
    ("PVC-2-10", "PVC Sch 40 2\" x 10'", "EA", "14.75", "HAJ"),
    ("PVC-CEMENT", "PVC Cement 8 oz", "EA", "9.25", "FER"),
    ("SB-COUP-1/2", "SharkBite Coupling 1/2\"", "EA", "8.45", "FER"),
    ("BALLV-3/4", "Ball Valve 3/4\" Brass", "EA", "15.80", "HAJ"),
    ("PTRAP-1.5", "P-Trap 1-1/2\" PVC", "EA", "6.20", "HAJ"),
    ("WAX-RING", "Toilet Wax Ring with Flange", "EA", "5.95", "FER"),
    ("FILL-VALVE", "Fluidmaster Fill Valve", "EA", "11.30", "FER"),
    ("FLAPPER-3", "Toilet Flapper 3\"", "EA", "6.75", "FER"),
    ("SUPPLY-12", "Braided Supply Line 12\"", "EA", "7.40", "HAJ"),
    ("DISP-1/2HP", "Garbage Disposal 1/2 HP", "EA", "112.00", "FER"),
    ("FAUCET-PD", "Kitchen Faucet Pull-Down", "EA", "148.00", "HAJ"),
    ("CU-M-3/4", "Copper Type M 3/4\" (per ft)", "FT", "4.33", "HAJ"),
    ("SOLDER-LF", "Lead-Free Solder 1 lb", "EA", "32.60", "HAJ"),
    ("FLUX-4OZ", "Flux Paste 4 oz", "EA", "7.15", "HAJ"),
    ("PTFE-TAPE", "Thread Seal Tape", "EA", "1.20", "FER"),
    ("GAS-FLEX-48", "Gas Flex Connector 48\"", "EA", "23.90", "FER"),
    ("EXP-TANK-2G", "Thermal Expansion Tank 2 gal", "EA", "44.50", "FER"),
    ("PRV-3/4", "Pressure Reducing Valve 3/4\"", "EA", "86.30", "HAJ"),
    ("WARR-PART", "Warranty Replacement Part (manufacturer supplied)", "EA", "0.00", "CAR"),
    ("SHOP-SUP", "Shop Supplies", "EA", "5.00", "JOH"),
    ("OLD-FITTING", "Discontinued Flare Fitting", "EA", "3.10", "OLD"),
]
EQUIPMENT = [
    ("CAR-24ACC636", "Carrier 3-Ton 16 SEER2 AC Condenser", "2480.00", "CAR", "Carrier", "24ACC636A003"),
    ("CAR-24ACC648", "Carrier 4-Ton 16 SEER2 AC Condenser", "2915.00", "CAR", "Carrier", "24ACC648A003"),
    ("CAR-59SC5A080", "Carrier 80k BTU 96% Gas Furnace", "1965.00", "CAR", "Carrier", "59SC5A080S17"),
    ("LEN-ML14XC1-036", "Lennox 3-Ton 14 SEER AC", "2310.00", "LEN", "Lennox", "ML14XC1-036"),
    ("LEN-EL296V", "Lennox 96% Variable Speed Furnace", "2140.00", "LEN", "Lennox", "EL296V"),
    ("GDM-GSXH503610", "Goodman 3-Ton 15 SEER AC", "1695.00", "GEM", "Goodman", "GSXH503610"),
    ("GDM-AMVC960803", "Goodman 80k BTU 96% Furnace", "1420.00", "GEM", "Goodman", "AMVC960803BN"),
    ("MUL-HP-24K", "Mini-Split Heat Pump 24k BTU", "1380.00", "MUL", "Müller", "MHP-24K"),
    ("MUL-AH-3T", "Air Handler 3-Ton Multi-Position", "1150.00", "MUL", "Müller", "MAH-36"),
    ("RHM-PROG50", "Rheem 50-gal Gas Water Heater", "845.00", "FER", "Rheem", "PROG50-38N"),
    ("RHM-PROE40", "Rheem 40-gal Electric Water Heater", "598.00", "FER", "Rheem", "PROE40-M2"),
    ("NAV-NPE240A2", "Navien Tankless Water Heater 199k BTU", "1890.00", "HAJ", "Navien", "NPE-240A2"),
    ("AOS-GCR-50", "A.O. Smith 50-gal Gas Water Heater", "812.00", "HAJ", "A.O. Smith", "GCR-50"),
    ("HNY-DH90", "Honeywell Whole-House Dehumidifier 90 pt", "1245.00", "RBW", "Honeywell", "DH90A1007"),
    ("APR-800", "Aprilaire 800 Steam Humidifier", "689.00", "JOH", "Aprilaire", "800"),
]
SERVICES = [
    ("SVC-DIAG", "Diagnostic Fee", "89.00"), ("SVC-TUNE-AC", "AC Tune-Up", "129.00"),
    ("SVC-TUNE-FURN", "Furnace Safety Inspection", "119.00"),
    ("SVC-AC-INSTALL", "AC System Installation Labor", "1450.00"),
    ("SVC-FURN-INSTALL", "Furnace Installation Labor", "1150.00"),
    ("SVC-WH-INSTALL", "Water Heater Installation Labor", "650.00"),
    ("SVC-DRAIN", "Drain Cleaning", "189.00"), ("SVC-LEAK", "Leak Detection & Repair", "245.00"),
    ("SVC-TOILET", "Toilet Repair", "149.00"), ("SVC-AFTERHRS", "After-Hours Service Call", "150.00"),
    ("SVC-RECHARGE", "Refrigerant Recharge Labor", "165.00"), ("SVC-MAINT", "Comfort Club Maintenance Visit", "0.00"),
]
# Starter item mappings leave these SKUs out; the first two have no SYSPRO stock code at all.
UNMAPPED_SKUS = ("TSTAT-ECO", "FAUCET-PD", "BLW-1/2HP", "EXP-TANK-2G", "MUL-HP-24K", "BRAZE-15")
NO_STOCK_CODE = ("TSTAT-ECO", "FAUCET-PD")
UNMAPPED_TRUCK_INDEX = 11  # Kevin Brooks' truck

# ST GL account: number, name, type, defaultAccountType
GL_ACCOUNTS = [
    ("1300", "Inventory Asset", "Asset", "Inventory"),
    ("2000", "Accounts Payable", "Liability", "AccountsPayable"),
    ("4000", "Service Revenue", "Income", "Revenue"),
    ("4100", "Equipment Sales", "Income", None),
    ("4200", "Materials Revenue", "Income", None),
    ("5000", "Cost of Goods Sold - Materials", "COGS", "CostOfGoodsSoldMaterials"),
    ("5100", "Cost of Goods Sold - Equipment", "COGS", "CostOfGoodsSoldEquipment"),
    ("5200", "Subcontractor Costs", "COGS", None),
    ("5300", "Warranty Parts", "COGS", None),
    ("6100", "Shop Supplies", "Expense", None),
]
COST_ACCOUNTS = ("5000", "5100", "5200", "5300", "6100")

FIRST = ["James", "Linda", "Robert", "Patricia", "Carlos", "Nguyễn", "Aaron", "Renée", "Zoë", "DeShawn", "Emily",
         "Rosa", "Hank", "Priya", "Beatriz", "Colt", "Dolores", "Frank", "Ivy", "Tyrone"]
LAST = ["Smith", "Johnson", "Rodríguez", "O'Brien", "Nguyen", "Patel", "McAllister", "Peña", "Washington",
        "Kowalski", "Dubois", "Lee", "Hughes", "Castillo", "St. John", "Vaughn"]
COMMERCIAL = ["Smith & Sons Dental", "Café Olé Restaurant", "Bluebonnet Apartments #3", "O'Reilly Family Trust",
              "Tejas Self-Storage", "Lakeside Church of Christ", "Señor Taco Grill", "H-E-B Store #412 (Maint.)"]
STREETS = ["Elm St", "Main St", "Live Oak Dr", "Mockingbird Ln", "Guadalupe St", "Westheimer Rd", "Lamar Blvd",
           "Pecan Valley Dr", "Commerce St", "Bluebonnet Trl"]


@dataclass
class Company:
    st: StState
    syspro: SysproState
    starter_mappings: dict[str, list[dict]]
    credentials: dict
    start: date | None = None  # the first day with documents: the sandbox profile's go-live date


def build_company(seed: int = 7, *, invoices: int = 120, start: date | None = None,
                  today: date | None = None) -> Company:
    """The demo company, identical for the same arguments. `start` defaults to 30 days before `today`."""
    today = today or date.today()
    start = start or today - timedelta(days=30)
    rng = random.Random(seed)
    credentials = {
        "tenant": str(rng.randrange(1_000_000, 9_999_999)),
        "client_id": f"cid.demo{_hex(rng, 20)}",
        "client_secret": f"cs1.demo{_hex(rng, 40)}",
        "app_key": f"ak1.demo{_hex(rng, 24)}",
        "syspro_operator": "INTEGRATION",
        "syspro_operator_password": f"demo-{_hex(rng, 12)}",
        "syspro_company": "EDU1",
        "syspro_company_password": "",
    }
    st = StState(tenant=int(credentials["tenant"]), client_id=credentials["client_id"],
                 client_secret=credentials["client_secret"], app_key=credentials["app_key"], company_name=COMPANY)
    syspro = SysproState(company_id="EDU1", company_password="", company_name=COMPANY,
                         today=(lambda: today) if today != date.today() else date.today)
    syspro.add_operator(credentials["syspro_operator"], credentials["syspro_operator_password"])
    builder = _Builder(rng, st, syspro, start, today)
    builder.masters()
    builder.invoices(invoices)
    builder.purchasing()
    builder.syspro_activity()
    st.last_stamp = max(
        [st.last_stamp]
        + [r["modifiedOn"] for table in (st.invoices, st.purchase_orders, st.adjustments, st.vendors)
           for r in table.values()]
    )
    st.invoice_factory = builder.new_invoices
    return Company(st=st, syspro=syspro, starter_mappings=builder.mappings(), credentials=credentials, start=start)


def advance(company: Company, count: int) -> list[int]:
    """New invoices arrive now in ServiceTitan (the demo calls this while it runs)."""
    return company.st.advance(count)


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def stock_code_for(sku_code: str, index: int) -> str:
    """Most SYSPRO stock codes equal the SKU code; codes with '/' and every third one differ."""
    if "/" in sku_code or index % 3 == 0:
        return sku_code.replace("/", "").replace("-", "").replace(".", "")[:30]
    return sku_code


class _Builder:
    def __init__(self, rng: random.Random, st: StState, syspro: SysproState, start: date, today: date):
        self.rng, self.st, self.syspro, self.start, self.today = rng, st, syspro, start, today
        self.epoch = datetime.combine(start - timedelta(days=400), time(14, 0))
        self.vendor_ids: dict[str, int] = {}
        self.bu_ids: list[int] = []
        self.tech_ids: list[int] = []
        self.truck_of_tech: dict[int, int] = {}
        self.warehouse_of_bu: dict[int, int] = {}
        self.gl: dict[str, dict] = {}
        self.sku_stock: dict[int, str] = {}
        self.customers: dict[int, list[tuple[int, str, dict]]] = {}
        self.materials_by_vendor: dict[str, list[dict]] = {}
        self.next_job = 40_000 + rng.randrange(1000)
        self.cost_invoices: list[dict] = []
        self.adjustments_of_job: dict[str, int] = {}  # ST numbers a job's adjustments 43008-1, 43008-2, ...
        # its own stream (seeded from the main one without drawing from it), so the rest of the company
        # stays what it was: which inventory parts came off a truck or shelf, which were bought for the job
        self.stock_rng = random.Random(repr(rng.getstate()[1][:8]))

    def _adjustment_number(self, job_number: str) -> str:
        count = self.adjustments_of_job[job_number] = self.adjustments_of_job.get(job_number, 0) + 1
        return f"{job_number}-{count}"

    def stamp(self, days: float = 0) -> datetime:
        return self.epoch + timedelta(days=days)

    # --- master data -------------------------------------------------------------------------
    def masters(self) -> None:
        st, sp = self.st, self.syspro
        for index, (name, branch, segment, city, zip_code, trade) in enumerate(BRANCHES):
            bu_id = st.new_id()
            st.business_units[bu_id] = {
                "id": bu_id, "name": name, "officialName": f"{COMPANY} – {name}", "active": True,
                "email": f"{branch.lower()}@lonestarcomfort.example", "phoneNumber": f"(214) 555-01{index:02d}",
                "address": {"street": f"{100 + index * 25} Commerce St", "unit": None, "city": city, "state": "TX",
                            "zip": zip_code, "country": "USA"},
                "defaultTaxRate": TAX_RATE, "accountCode": segment,
                "trade": {"id": 1 if trade == "HVAC" else 2, "name": trade},
                "createdOn": self.stamp(index), "modifiedOn": self.stamp(index), "_branch": branch, "_segment": segment,
                "_city": city, "_zip": zip_code,
            }
            self.bu_ids.append(bu_id)
            sp.ap_branches.add(branch)
            wh_id = st.new_id()
            st.warehouses[wh_id] = {
                "id": wh_id, "name": f"{city} Warehouse", "active": True,
                "address": {"street": f"{2000 + index} Industrial Blvd", "unit": None, "city": city, "state": "TX",
                            "zip": zip_code, "country": "USA"},
                "createdOn": self.stamp(index), "modifiedOn": self.stamp(index), "externalData": {}, "_syspro": branch,
            }
            self.warehouse_of_bu[bu_id] = wh_id
            sp.add_warehouse(branch, Description=f"{city} main warehouse", Branch=branch)
        closed = st.new_id()
        st.warehouses[closed] = {"id": closed, "name": "Old Mesquite Yard", "active": False, "address": {},
                                 "createdOn": self.stamp(1), "modifiedOn": self.stamp(30), "externalData": {},
                                 "_syspro": None}

        for index, (number, name, kind, default_type) in enumerate(GL_ACCOUNTS):
            gl_id = st.new_id()
            st.gl_accounts[gl_id] = {
                "id": gl_id, "number": number, "name": name, "type": kind, "subtype": None, "active": True,
                "description": name, "defaultAccountType": default_type, "createdOn": self.stamp(2),
                "modifiedOn": self.stamp(2 + index),
            }
            self.gl[number] = {"id": gl_id, "name": name, "number": number, "type": kind, "detailType": None}
        old = st.new_id()
        st.gl_accounts[old] = {"id": old, "number": "5900", "name": "Old COGS (do not use)", "type": "COGS",
                               "active": False, "createdOn": self.stamp(2), "modifiedOn": self.stamp(50)}
        for _name, _branch, segment, *_ in BRANCHES:
            for number, name, kind, _default in GL_ACCOUNTS:
                if number in COST_ACCOUNTS or number in ("1300", "2000"):
                    sp.add_gl_code(f"{segment}-{number}", f"{name} ({_branch})",
                                   "E" if kind in ("COGS", "Expense") else "A")

        for index, (first, last, bu_index) in enumerate(TECHNICIANS):
            tech_id = st.new_id()
            bu_id = self.bu_ids[bu_index]
            name = f"{first} {last}"
            st.technicians[tech_id] = {
                "id": tech_id, "userId": tech_id + 500_000, "name": name, "firstName": first, "lastName": last,
                "businessUnitId": bu_id, "active": True, "email": None, "phoneNumber": f"(469) 555-02{index:02d}",
                "loginName": (first[0] + last).lower().replace("'", "").replace(" ", ""), "hourlyRate": D("32.50"),
                "team": st.business_units[bu_id]["name"], "createdOn": self.stamp(3),
                "modifiedOn": self.stamp(3 + index),
            }
            self.tech_ids.append(tech_id)
            truck_id = st.new_id()
            code = f"T{101 + index}"
            st.trucks[truck_id] = {
                "id": truck_id, "name": f"Truck {101 + index} – {name}", "active": True, "memo": "",
                "warehouseId": self.warehouse_of_bu[bu_id], "technicianIds": [tech_id], "createdOn": self.stamp(3),
                "modifiedOn": self.stamp(3), "externalData": {}, "_syspro": code, "_index": index,
            }
            self.truck_of_tech[tech_id] = truck_id
            sp.add_warehouse(code, Description=f"Truck {101 + index} {name}",
                             Branch=st.business_units[bu_id]["_branch"])
        gone = st.new_id()
        st.technicians[gone] = {"id": gone, "userId": gone + 500_000, "name": "Gary Olsen", "firstName": "Gary",
                                "lastName": "Olsen", "businessUnitId": self.bu_ids[0], "active": False,
                                "createdOn": self.stamp(3), "modifiedOn": self.stamp(90)}

        for index, (key, name, supplier, _mapped, active) in enumerate(VENDORS):
            vendor_id = st.new_id()
            st.vendors[vendor_id] = {
                "id": vendor_id, "name": name, "active": active, "isTruckReplenishment": key in ("JOH", "FER"),
                "isMobileCreationRestricted": False, "memo": "", "deliveryOption": "EmailAsPdf",
                "defaultTaxRate": D("0"), "contactInfo": {"phone": f"(800) 555-1{index:03d}",
                                                          "email": f"orders@{key.lower()}.example"},
                "address": {"street": f"{300 + index * 11} Supply Pkwy", "unit": "", "city": "Dallas", "state": "TX",
                            "zip": "75247", "country": "USA"},
                "createdOn": self.stamp(4 + index), "modifiedOn": self.stamp(4 + index), "externalData": {},
                "_key": key, "_supplier": supplier,
            }
            self.vendor_ids[key] = vendor_id
            if supplier:
                sp.add_supplier(supplier, SupplierName=name, SupShortName=name[:20], Branch="DAL", TermsCode="30",
                                Telephone=f"800-555-1{index:03d}", Email=f"ap@{key.lower()}.example",
                                SupAddr1=f"{300 + index * 11} Supply Pkwy", SupAddr2="Dallas", SupAddr3="TX",
                                SupPostalCode="75247", SupplierClass="HVAC" if key != "FER" else "PLMB")
        for code, name in SYSPRO_ONLY_SUPPLIERS:
            sp.add_supplier(code, SupplierName=name, SupShortName=name[:20], Branch="DAL", TermsCode="30",
                            SupAddr2="Dallas", SupAddr3="TX", SupplierClass="MRO")

        warehouses = [w["_syspro"] for w in st.warehouses.values() if w.get("_syspro")]
        trucks = [t["_syspro"] for t in st.trucks.values()]
        for index, (code, name, unit, cost, vendor) in enumerate(MATERIALS):
            sku = self._sku(st.materials, code, name, D(cost), vendor, index, unit=unit, kind="Material")
            sku["costOfSaleAccount"] = {"WARR-PART": "5300", "SHOP-SUP": "6100"}.get(code, "5000")
            sku["active"] = vendor != "OLD"
            self.materials_by_vendor.setdefault(vendor, []).append(sku)
            self._stock(sku, index, unit, "MAT", warehouses + trucks)
        for index, (code, name, cost, vendor, maker, model) in enumerate(EQUIPMENT):
            sku = self._sku(st.equipment, code, name, D(cost), vendor, index, unit="EA", kind="Equipment")
            sku.update({"manufacturer": maker, "model": model, "costOfSaleAccount": "5100"})
            self._stock(sku, index + 1, "EA", "EQP", warehouses)
        for index, (code, name, price) in enumerate(SERVICES):
            sku_id = st.new_id()
            st.services[sku_id] = {
                "id": sku_id, "code": code, "displayName": name, "description": name, "price": D(price),
                "cost": D("0.00"), "hours": D("1.5"), "active": True, "account": "4000", "_type": "Service",
                "createdOn": self.stamp(10), "modifiedOn": self.stamp(10 + index * 0.1), "externalData": {},
            }

        for index in range(300):
            rng = self.rng
            if index % 12 == 0:
                name = COMMERCIAL[(index // 12) % len(COMMERCIAL)]
            else:
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            bu_id = self.bu_ids[index % len(self.bu_ids)]
            bu = st.business_units[bu_id]
            address = {"street": f"{rng.randrange(100, 9999)} {rng.choice(STREETS)}", "unit": None,
                       "city": bu["_city"], "state": "TX", "zip": bu["_zip"], "country": "USA"}
            self.customers.setdefault(bu_id, []).append((200_000 + index, name, address))

    def _sku(self, table, code, name, cost, vendor, index, *, unit, kind) -> dict:
        sku_id = self.st.new_id()
        vendor_id = self.vendor_ids[vendor]
        markup = D("2.2") if kind == "Material" else D("1.65")
        sku = {
            "id": sku_id, "code": code, "displayName": name, "description": name, "cost": cost,
            "price": cents(cost * markup) if cost else D("0.00"), "unitOfMeasure": unit,
            "isInventory": kind == "Equipment" or unit == "EA", "account": "4200" if kind == "Material" else "4100",
            "assetAccount": "1300", "active": True, "_type": kind, "_vendor": vendor,
            "primaryVendor": {"id": sku_id * 10 + 1, "vendorName": self.st.vendors[vendor_id]["name"],
                              "vendorId": vendor_id, "vendorPart": code.replace("-", ""), "cost": cost},
            "createdOn": self.stamp(12), "modifiedOn": self.stamp(12 + index * 0.01), "externalData": {},
        }
        table[sku_id] = sku
        return sku

    def _stock(self, sku: dict, index: int, unit: str, product_class: str, warehouses: list[str]) -> None:
        code = sku["code"]
        if code in NO_STOCK_CODE:
            return
        stock = stock_code_for(code, index)
        self.sku_stock[sku["id"]] = stock
        supplier = self.st.vendors[self.vendor_ids[sku["_vendor"]]]["_supplier"] or ""
        self.syspro.add_stock_code(stock, Description=sku["displayName"][:50], StockUom=unit,
                                   Decimals=3 if unit in ("FT", "LB") else 0, ProductClass=product_class,
                                   Supplier=supplier)
        for warehouse in warehouses:
            quantity = self.rng.randrange(0, 40) if len(warehouse) == 3 else self.rng.randrange(0, 8)
            self.syspro.set_stock_level(stock, warehouse, quantity)

    # --- invoices ----------------------------------------------------------------------------
    def invoices(self, count: int) -> None:
        rng = self.rng
        days = max(1, (self.today - self.start).days)
        moments = sorted(
            datetime.combine(self.start + timedelta(days=rng.randrange(days)), time(8))
            + timedelta(minutes=rng.randrange(660))
            for _ in range(count)
        )
        forced = ["multi_vendor", "service_only", "zero_cost", "awkward", "equipment", "unmapped_vendor",
                  "unmapped_sku", "adjustment"]
        latest = datetime.combine(self.today, time(0)) - timedelta(minutes=1)
        for index, moment in enumerate(moments):
            kind = forced[index] if index < len(forced) else None
            invoice = self.make_invoice(moment, kind)
            if invoice.get("adjustmentToId") is None and rng.random() < 0.08:
                # Edited after it was first saved (a technician corrected a quantity days later).
                edited = min(latest, invoice["modifiedOn"] + timedelta(days=rng.randint(1, 4)))
                invoice["modifiedOn"] = max(edited, invoice["modifiedOn"])
                for item in invoice["items"]:
                    item["modifiedOn"] = invoice["modifiedOn"]
            self.st.add_invoice(invoice)

    def new_invoices(self, st: StState, count: int) -> list[dict]:
        created = []
        for _ in range(count):
            moment = st.stamp()
            invoice = self.make_invoice(moment, None, live=True)
            created.append(st.add_invoice(invoice))
        return created

    def make_invoice(self, moment: datetime, kind: str | None, *, live: bool = False) -> dict:
        rng, st = self.rng, self.st
        if kind is None:
            roll = rng.random()
            kind = ("adjustment" if roll < 0.05 and self.cost_invoices else
                    "service_only" if roll < 0.18 else
                    "equipment" if roll < 0.30 else
                    "zero_cost" if roll < 0.34 else
                    "awkward" if roll < 0.38 else
                    "multi_vendor" if roll < 0.58 else "standard")
        if kind == "adjustment" and not self.cost_invoices:
            kind = "standard"
        tech_id = rng.choice(self.tech_ids)
        tech = st.technicians[tech_id]
        bu = st.business_units[tech["businessUnitId"]]
        customer_id, customer_name, address = rng.choice(self.customers[bu["id"]])
        invoice_id = st.new_id()
        created = moment
        modified = moment + timedelta(minutes=rng.randrange(5, 120)) if not live else moment
        job_number = str(self.next_job)
        self.next_job += 1
        items: list[dict] = []
        original = None
        if kind == "adjustment":
            original = rng.choice(self.cost_invoices[-40:])
            job_number = original["job"]["number"]
            tech_id = original["items"][0].get("technicianId") or tech_id
            bu = st.business_units[original["businessUnit"]["id"]]
            customer_id, customer_name = original["customer"]["id"], original["customer"]["name"]
            address = original["customerAddress"]
            cost_items = [i for i in original["items"] if i["type"] != "Service" and i["cost"]] or original["items"]
            for source in rng.sample(cost_items, k=max(1, len(cost_items) // 2)):
                items.append(self._item(st.sku(source["skuId"]), -min(source["quantity"], D(1)), tech_id, bu))
        else:
            service = self._service_for(kind, bu)
            items.append(self._item(service, D(1), tech_id, bu))
            if kind == "multi_vendor":
                vendors = rng.sample(["JOH", "FER", "MUL", "CAR", "GEM", "HAJ", "LEN"], k=rng.choice((2, 2, 3)))
                for vendor in vendors:
                    items.append(self._material_item(vendor, tech_id, bu))
            elif kind == "standard":
                for _ in range(rng.randint(1, 3)):
                    items.append(self._material_item(self._weighted_vendor(), tech_id, bu))
            elif kind == "equipment":
                unit = rng.choice(list(st.equipment.values()))
                items.append(self._item(unit, D(1), tech_id, bu))
                for _ in range(rng.randint(1, 2)):
                    items.append(self._material_item(self._weighted_vendor(), tech_id, bu))
            elif kind == "zero_cost":
                items.append(self._item(self._material("WARR-PART"), D(1), tech_id, bu))
                items.append(self._material_item(self._weighted_vendor(), tech_id, bu))
            elif kind == "awkward":
                items.append(self._item(self._material("R454B-LB"), D(3), tech_id, bu))
                items.append(self._item(self._material(rng.choice(["CU-ACR-7/8", "CU-M-3/4", "PEX-3/4-FT"])),
                                        D("0.333"), tech_id, bu))
            elif kind == "unmapped_vendor":
                items.append(self._material_item(rng.choice(["RBW", "LSC"]), tech_id, bu))
                items.append(self._material_item("JOH", tech_id, bu))
            elif kind == "unmapped_sku":
                items.append(self._item(self._material(rng.choice(["TSTAT-ECO", "BLW-1/2HP", "BRAZE-15"])), D(1),
                                        tech_id, bu))
        invoice = {
            "id": invoice_id, "referenceNumber": self._adjustment_number(job_number) if original else job_number,
            "invoiceDate": moment.date(), "dueDate": moment.date() + timedelta(days=30),
            "salesTaxCode": {"id": 1, "name": "Texas State + Local", "taxRate": TAX_RATE},
            "invoiceType": {"id": 1, "name": "Service"},
            "customer": {"id": customer_id, "name": customer_name}, "customerAddress": address,
            "location": {"id": customer_id + 100_000, "name": customer_name}, "locationAddress": address,
            "businessUnit": {"id": bu["id"], "name": bu["name"]},
            "createdBy": st.technicians[tech_id]["loginName"] if tech_id in st.technicians else None,
            "createdOn": created, "modifiedOn": modified,
            "adjustmentToId": original["id"] if original else None,
            "job": {"id": int(job_number) * 10, "number": job_number, "type": bu["trade"]["name"] + " Service"},
            "employeeInfo": {"id": tech_id, "name": st.technicians[tech_id]["name"], "modifiedOn": created},
            "summary": f"{items[0]['skuName']} & related work – tech {st.technicians[tech_id]['name']}",
            "active": rng.random() > 0.02 or live, "syncStatus": "Posted" if rng.random() < 0.5 else "Pending",
            "items": items, "_taxRate": TAX_RATE,
            "invoiceConfiguration": "JobInvoice",
        }
        for order, item in enumerate(items, start=1):
            item["id"] = st.new_id()
            item["order"] = order
            item["createdOn"] = created
            item["modifiedOn"] = modified
        recompute_invoice_totals(invoice)
        if not original and any(i["type"] != "Service" and i["cost"] for i in items):
            self.cost_invoices.append(invoice)
        return invoice

    def _service_for(self, kind: str, bu: dict) -> dict:
        services = {s["code"]: s for s in self.st.services.values()}
        if kind == "equipment":
            code = "SVC-AC-INSTALL" if bu["trade"]["name"] == "HVAC" else "SVC-WH-INSTALL"
        elif bu["trade"]["name"] == "HVAC":
            code = self.rng.choice(["SVC-DIAG", "SVC-TUNE-AC", "SVC-TUNE-FURN", "SVC-RECHARGE", "SVC-AFTERHRS",
                                    "SVC-MAINT"])
        else:
            code = self.rng.choice(["SVC-DIAG", "SVC-DRAIN", "SVC-LEAK", "SVC-TOILET", "SVC-AFTERHRS"])
        return services[code]

    def _material(self, code: str) -> dict:
        for sku in self.st.materials.values():
            if sku["code"] == code:
                return sku
        raise KeyError(code)

    def _weighted_vendor(self) -> str:
        return self.rng.choice(["JOH", "JOH", "FER", "FER", "MUL", "CAR", "GEM", "HAJ", "HAJ", "LEN", "RBW", "LSC"])

    def _material_item(self, vendor: str, tech_id: int, bu: dict) -> dict:
        choices = [s for s in self.materials_by_vendor[vendor] if s["active"] and s["code"] not in ("WARR-PART",)]
        sku = self.rng.choice(choices)
        if sku["unitOfMeasure"] in ("FT", "LB"):
            quantity = D(self.rng.choice(["0.333", "1.5", "2.5", "6", "10", "12.25", "25"]))
        else:
            quantity = D(self.rng.choice([1, 1, 1, 2, 2, 3, 4, 6]))
        return self._item(sku, quantity, tech_id, bu)

    def _item(self, sku: dict, quantity: Decimal, tech_id: int, bu: dict) -> dict:
        kind = sku["_type"]
        inventory = kind != "Service" and bool(sku.get("isInventory"))
        # most inventory parts come off the technician's truck (equipment off the branch's shelf) and were
        # bought on a purchase order; the rest were bought for this job at the supply counter, so
        # ServiceTitan names no inventory location for them. Non-inventory items never have one.
        location = None
        if inventory and self.stock_rng.random() < 0.8:
            if kind == "Material":
                location = self.st.trucks[self.truck_of_tech[tech_id]] if tech_id in self.truck_of_tech else None
            else:
                location = self.st.warehouses[self.warehouse_of_bu[bu["id"]]]
        cost_account = sku.get("costOfSaleAccount")
        item = {
            "description": sku["description"], "quantity": quantity, "cost": sku.get("cost", D("0")),
            "price": sku["price"], "type": kind, "skuId": sku["id"], "skuName": sku["code"],
            "inventoryLocationId": location["id"] if location else None,
            "inventoryLocation": location["name"] if location else None,
            "inventory": inventory, "taxable": kind != "Service",
            "generalLedgerAccount": self.gl[sku.get("account") or "4000"],
            "costOfSaleAccount": self.gl[cost_account] if cost_account else None,
            "assetAccount": self.gl["1300"] if kind != "Service" and sku.get("isInventory") else None,
            "technicianId": tech_id, "soldHours": D("1.5") if kind == "Service" else None,
        }
        recompute_invoice_item(item)
        return item

    # --- purchasing and stock ----------------------------------------------------------------
    def purchasing(self) -> None:
        st, rng = self.st, self.rng
        st.purchase_order_types.update({1: "Stock Replenishment", 2: "Job Purchase"})
        statuses = ["Pending"] * 5 + ["Sent"] * 6 + ["Received"] * 8 + ["Exported"] * 4 + ["Canceled"] * 2
        days = max(1, (self.today - self.start).days)
        for index, status in enumerate(statuses):
            vendor = ["JOH", "FER", "MUL", "CAR", "GEM", "HAJ", "LEN", "RBW"][index % 8]
            bu_id = self.bu_ids[index % len(self.bu_ids)]
            location = self.warehouse_of_bu[bu_id]
            moment = datetime.combine(self.start + timedelta(days=rng.randrange(days)), time(9, rng.randrange(60)))
            # sent/received two days after the order, and still before today: no record modified in the future
            moment = min(moment, datetime.combine(self.today, time(0)) - timedelta(days=2, minutes=1))
            po_id = st.new_id()
            items = []
            for sku in rng.sample([s for s in self.materials_by_vendor[vendor] if s["active"]],
                                  k=min(3, len(self.materials_by_vendor[vendor]))):
                quantity = D(rng.choice([5, 10, 12, 20, 25]))
                items.append({
                    "id": st.new_id(), "skuId": sku["id"], "description": sku["description"],
                    "vendorPartNumber": sku["primaryVendor"]["vendorPart"], "quantity": quantity,
                    "quantityReceived": quantity if status in ("Received", "Exported") else D(0),
                    "cost": sku["cost"], "total": quantity * sku["cost"], "skuName": sku["displayName"],
                    "skuCode": sku["code"], "skuType": "Material", "createdOn": moment, "modifiedOn": moment,
                    "status": "Received" if status in ("Received", "Exported") else "Pending",
                })
            po = {
                "id": po_id, "number": f"{po_id}-PO", "status": status, "typeId": 1,
                "vendorId": self.vendor_ids[vendor],
                "businessUnitId": bu_id, "inventoryLocationId": location,
                "shipTo": st.warehouses[location]["address"], "date": moment, "requiredOn": moment + timedelta(days=3),
                "sentOn": moment + timedelta(hours=1) if status != "Pending" else None,
                "receivedOn": moment + timedelta(days=2) if status in ("Received", "Exported") else None,
                "createdOn": moment, "modifiedOn": moment + timedelta(days=2 if status != "Pending" else 0),
                "tax": D("0"), "shipping": D("0"), "summary": f"Restock {st.warehouses[location]['name']}",
                "vendorDocumentNumber": "", "items": items,
                "total": sum((i["total"] for i in items), D(0)),
            }
            st.purchase_orders[po_id] = po
            if status in ("Received", "Exported"):
                self._receive(po, vendor)

        for index in range(10):
            bu_id = self.bu_ids[index % len(self.bu_ids)]
            truck = self.truck_of_tech[self.tech_ids[index % len(self.tech_ids)]]
            location = self.warehouse_of_bu[bu_id] if index % 2 == 0 else truck
            moment = datetime.combine(self.start + timedelta(days=rng.randrange(days)), time(16, rng.randrange(60)))
            skus = rng.sample([s for s in st.materials.values() if s["active"] and s["id"] in self.sku_stock], k=2)
            adjustment_id = st.new_id()
            st.adjustments[adjustment_id] = {
                "id": adjustment_id, "number": f"ADJ-{index + 1:05d}", "referenceNumber": f"CC-{moment:%m%d}",
                "type": "Adjustment" if index % 3 else "CycleCount", "inventoryLocationId": location,
                "businessUnitId": bu_id, "memo": rng.choice(["Cycle count", "Damaged in truck", "Found on shelf",
                                                             "Shrinkage – O'Connor truck audit"]),
                "date": moment, "createdOn": moment, "modifiedOn": moment, "active": index != 9,
                "syncStatus": "Exported" if index < 2 else "Pending", "externalData": {},
                "items": [
                    {"id": st.new_id(), "skuId": sku["id"], "description": sku["description"],
                     "name": sku["displayName"], "code": sku["code"],
                     "quantity": D(rng.choice([-3, -2, -1, 1, 2, 4])), "cost": sku["cost"]}
                    for sku in skus
                ],
            }

    def _receive(self, po: dict, vendor: str) -> None:
        st = self.st
        receipt_id = st.new_id()
        bill_id = st.new_id()
        received = po["receivedOn"]
        amount = sum((i["total"] for i in po["items"]), D(0))
        st.receipts[receipt_id] = {
            "id": receipt_id, "number": f"{po['number']}-R1", "vendorInvoiceNumber": f"INV-{receipt_id}",
            "purchaseOrderId": po["id"], "billId": bill_id, "businessUnitId": po["businessUnitId"],
            "vendorId": po["vendorId"], "inventoryLocationId": po["inventoryLocationId"], "receiptAmount": amount,
            "receivedOn": received, "createdOn": received, "modifiedOn": received, "active": True,
            "syncStatus": "Exported" if po["status"] == "Exported" else "Pending",
            "items": [{"id": st.new_id(), "skuId": i["skuId"], "name": i["skuName"], "code": i["skuCode"],
                       "description": i["description"], "quantity": i["quantity"], "cost": i["cost"],
                       "purchaseOrderItemId": i["id"]} for i in po["items"]],
        }
        bu = st.business_units[po["businessUnitId"]]
        st.ap_bills[bill_id] = {
            "id": bill_id, "purchaseOrderId": po["id"], "referenceNumber": f"INV-{receipt_id}",
            "vendorNumber": f"INV-{receipt_id}", "summary": po["summary"], "billDate": received.date(),
            "dueDate": received.date() + timedelta(days=30), "billAmount": amount, "createdOn": received,
            "modifiedOn": received, "syncStatus": "Exported" if po["status"] == "Exported" else "Pending",
            "businessUnit": {"id": bu["id"], "name": bu["name"]},
            "vendor": {"id": po["vendorId"], "name": st.vendors[po["vendorId"]]["name"]},
            "items": [{"id": i["id"], "name": i["skuName"], "description": i["description"], "quantity": i["quantity"],
                       "cost": i["cost"], "skuId": i["skuId"], "skuType": "Material", "skuCode": i["skuCode"],
                       "vendorPartNumber": i["vendorPartNumber"],
                       "inventoryLocation": {"id": po["inventoryLocationId"], "name":
                                             st.warehouses[po["inventoryLocationId"]]["name"], "type": "Warehouse"}}
                      for i in po["items"]],
        }

    def syspro_activity(self) -> None:
        """Adjustments made in SYSPRO and POs raised there, so the SYSPRO → ST flows have work."""
        st, sp, rng = self.st, self.syspro, self.rng
        locations = {**{w["id"]: w["_syspro"] for w in st.warehouses.values() if w.get("_syspro")},
                     **{t["id"]: t["_syspro"] for t in st.trucks.values()}}
        # Two mirror ST adjustments (a match the app can write back), two exist only in SYSPRO.
        for adjustment in list(st.adjustments.values())[2:4]:
            item = adjustment["items"][0]
            sp.adjust_stock(self.sku_stock[item["skuId"]], locations[adjustment["inventoryLocationId"]],
                            item["quantity"], reference=adjustment["number"], notation="Mirrors ST adjustment",
                            entry_date=adjustment["date"].date(), trn_value=item["quantity"] * item["cost"])
        stocked = [s for s in st.materials.values() if s["id"] in self.sku_stock and s["active"]]
        for reference in ("CYCLE COUNT DAL", "DAMAGED – HOU"):
            sku = rng.choice(stocked)
            warehouse = "DAL" if "DAL" in reference else "HOU"
            quantity = D(rng.choice([-2, -1, 3]))
            sp.adjust_stock(self.sku_stock[sku["id"]], warehouse, quantity, reference=reference,
                            entry_date=self.today - timedelta(days=rng.randint(1, 10)),
                            trn_value=quantity * sku["cost"])
        for supplier, codes in (("GRAING", ["SHOP-SUP", "TAPE-FOIL"]), ("FASTEN", ["PTFE-TAPE"]),
                                ("JOHNST", ["CAP-35-5", "CONT-1P-30", "FLT-16X25X1"])):
            lines = []
            for code in codes:
                sku = self._material(code)
                lines.append({"StockCode": self.sku_stock[sku["id"]], "OrderQty": D(rng.choice([10, 24, 50])),
                              "Price": sku["cost"], "LedgerCode": "10-5000"})
            sp.add_purchase_order(supplier, lines, warehouse="DAL",
                                  order_date=self.today - timedelta(days=rng.randint(1, 12)),
                                  customer_po_number="")

    # --- starter mappings --------------------------------------------------------------------
    def mappings(self) -> dict[str, list[dict]]:
        st = self.st
        mapped_vendors = {key for key, _n, _s, mapped, _a in VENDORS if mapped}
        vendors = [
            {"st_vendor_id": str(v["id"]), "st_vendor_name": v["name"], "syspro_supplier": v["_supplier"]}
            for v in st.vendors.values() if v["_key"] in mapped_vendors
        ]
        items = [
            {"st_sku_id": str(sku["id"]), "st_sku_code": sku["code"], "syspro_stock_code": self.sku_stock[sku["id"]],
             "syspro_supplier": ""}
            for table in (st.materials, st.equipment) for sku in table.values()
            if sku["id"] in self.sku_stock and sku["code"] not in UNMAPPED_SKUS
        ]
        gl = []
        for bu_id in self.bu_ids:
            segment = st.business_units[bu_id]["_segment"]
            for number in ("5000", "5100"):
                gl.append({"st_gl_account": number, "st_business_unit_id": str(bu_id),
                           "syspro_gl_code": f"{segment}-{number}"})
        for number in COST_ACCOUNTS:
            gl.append({"st_gl_account": number, "st_business_unit_id": "", "syspro_gl_code": f"10-{number}"})
        branches = [
            {"st_business_unit_id": str(bu_id), "st_business_unit_name": st.business_units[bu_id]["name"],
             "syspro_branch": st.business_units[bu_id]["_branch"], "gl_segment": st.business_units[bu_id]["_segment"]}
            for bu_id in self.bu_ids
        ]
        warehouses = [
            {"st_location_id": str(w["id"]), "st_location_name": w["name"], "syspro_warehouse": w["_syspro"]}
            for w in st.warehouses.values() if w.get("_syspro")
        ] + [
            {"st_location_id": str(t["id"]), "st_location_name": t["name"], "syspro_warehouse": t["_syspro"]}
            for t in st.trucks.values() if t["_index"] != UNMAPPED_TRUCK_INDEX
        ]
        return {"vendors": vendors, "items": items, "gl": gl, "branches": branches, "warehouses": warehouses}
