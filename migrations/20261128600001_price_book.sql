-- The price book (issue 11 item 5): catalog list prices, the source of truth pricing reads through a
-- Redis cache (platform::pricing). A price changes only through platform::pricing::set_price, which bumps
-- the version and appends the change; the cache entry is dropped after the commit and expires anyway.

create table cpq.catalog_price (
  sku              text not null,
  currency         text not null check (currency ~ '^[A-Z]{3}$'),
  description      text not null,
  unit_list_minor  bigint not null check (unit_list_minor >= 0),
  version          bigint not null default 1,
  updated_at       timestamptz not null default now(),
  updated_by       text not null default 'migration',
  primary key (sku, currency)
);

create table cpq.catalog_price_change (
  change_id        uuid primary key,
  sku              text not null,
  currency         text not null,
  old_minor        bigint,
  new_minor        bigint not null,
  version          bigint not null,
  reason           text not null check (length(reason) >= 10),
  changed_by       text not null,
  changed_at       timestamptz not null default now(),
  foreign key (sku, currency) references cpq.catalog_price (sku, currency)
);
select platform.attach_append_only('cpq.catalog_price_change');

-- The seed's products (platform::seed::world::PRODUCTS; a test keeps the two equal), in both currencies.
insert into cpq.catalog_price (sku, currency, description, unit_list_minor) values
  ('SKU-RTR-100', 'EUR', 'Edge router R100', 45000),
  ('SKU-RTR-300', 'EUR', 'Core router R300', 189000),
  ('SKU-SW-24', 'EUR', 'Managed switch 24-port', 32000),
  ('SKU-SW-48', 'EUR', 'Managed switch 48-port', 58000),
  ('SKU-AP-6', 'EUR', 'Wi-Fi 6 access point', 21500),
  ('SKU-FW-1', 'EUR', 'Firewall appliance F1', 124000),
  ('SKU-SRV-2U', 'EUR', 'Rack server 2U', 249000),
  ('SKU-NAS-8', 'EUR', 'Storage array 8-bay', 162000),
  ('SKU-UPS-3K', 'EUR', 'UPS 3 kVA', 87500),
  ('SKU-CBL-10', 'EUR', 'Fibre patch cable pack', 1250),
  ('SKU-SFP-10G', 'EUR', 'SFP+ transceiver 10G', 3900),
  ('SKU-LIC-SEC', 'EUR', 'Security licence (1 year)', 18000),
  ('SKU-LIC-MON', 'EUR', 'Monitoring licence (1 year)', 9600),
  ('SKU-SUP-GLD', 'EUR', 'Gold support (1 year)', 64000),
  ('SKU-SUP-SLV', 'EUR', 'Silver support (1 year)', 29000),
  ('SKU-INST-D', 'EUR', 'Installation day', 95000),
  ('SKU-TRN-1', 'EUR', 'Admin training seat', 42000),
  ('SKU-CAM-4K', 'EUR', '4K security camera', 15900),
  ('SKU-PHN-IP', 'EUR', 'IP desk phone', 8900),
  ('SKU-RCK-42', 'EUR', '42U rack cabinet', 112000),
  ('SKU-RTR-100', 'USD', 'Edge router R100', 45000),
  ('SKU-RTR-300', 'USD', 'Core router R300', 189000),
  ('SKU-SW-24', 'USD', 'Managed switch 24-port', 32000),
  ('SKU-SW-48', 'USD', 'Managed switch 48-port', 58000),
  ('SKU-AP-6', 'USD', 'Wi-Fi 6 access point', 21500),
  ('SKU-FW-1', 'USD', 'Firewall appliance F1', 124000),
  ('SKU-SRV-2U', 'USD', 'Rack server 2U', 249000),
  ('SKU-NAS-8', 'USD', 'Storage array 8-bay', 162000),
  ('SKU-UPS-3K', 'USD', 'UPS 3 kVA', 87500),
  ('SKU-CBL-10', 'USD', 'Fibre patch cable pack', 1250),
  ('SKU-SFP-10G', 'USD', 'SFP+ transceiver 10G', 3900),
  ('SKU-LIC-SEC', 'USD', 'Security licence (1 year)', 18000),
  ('SKU-LIC-MON', 'USD', 'Monitoring licence (1 year)', 9600),
  ('SKU-SUP-GLD', 'USD', 'Gold support (1 year)', 64000),
  ('SKU-SUP-SLV', 'USD', 'Silver support (1 year)', 29000),
  ('SKU-INST-D', 'USD', 'Installation day', 95000),
  ('SKU-TRN-1', 'USD', 'Admin training seat', 42000),
  ('SKU-CAM-4K', 'USD', '4K security camera', 15900),
  ('SKU-PHN-IP', 'USD', 'IP desk phone', 8900),
  ('SKU-RCK-42', 'USD', '42U rack cabinet', 112000);
